"""Known secret values never leave the process: not in a log line, not in an event."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from pydantic import BaseModel

from hearth_events import new_event
from hearth_events.catalogue import DeploymentFailed, DeploymentLogged, LogLine
from hearth_servicekit.commands import serve_command
from hearth_servicekit.logging import configure_logging, get_logger
from hearth_servicekit.publishing import JetStreamSink
from hearth_servicekit.redaction import forget_all, redact, redact_data, redact_value, remember
from tests.support.spies import spy

TOKEN = "canary-Tok3n/with+odd=chars"
KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDcanaryKeyLineTwoxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


@pytest.fixture(autouse=True)
def known() -> Iterator[None]:
    forget_all()
    remember(TOKEN.encode())
    remember(KEY)
    yield
    forget_all()


def test_every_known_value_and_its_url_quoted_form_is_masked() -> None:
    text = f"a {TOKEN} b {quote(TOKEN, safe='')} c https://x:{quote(TOKEN)}@h/"
    assert redact(text) == "a *** b *** c https://x:***@h/"


def test_each_line_of_a_multi_line_secret_is_masked_on_its_own() -> None:
    second = KEY.splitlines()[2]
    assert redact(f"cat id: {second}") == "cat id: ***"
    assert "BEGIN OPENSSH" in redact(KEY.splitlines()[0])  # the marker is no secret


def test_short_values_are_not_remembered() -> None:
    remember("abc")
    assert redact("abc abcdef") == "abc abcdef"


def test_events_lose_known_values_in_every_nested_field() -> None:
    logged = DeploymentLogged(
        deployment_id="d",
        target="t",
        lines=(LogLine(at="2026-01-01T00:00:00Z", message=f"TOKEN={TOKEN}"),),
    )
    failed = DeploymentFailed(deployment_id="d", target="t", step="restart", reason=TOKEN)
    assert redact_data(logged).lines[0].message == "TOKEN=***"
    assert redact_data(failed).reason == "***"
    clean = DeploymentFailed(deployment_id="d", target="t", step="restart", reason="ok")
    assert redact_data(clean) is clean


#: Values JSON escapes (quotes, backslashes, control characters) or does not (non-ASCII).
ESCAPED = [
    'quote"inside-it',
    "back\\slash\\value",
    "ünïcødé-sécret",
    "tab\there-value",
    "line\nbreak-vaL",
]


@pytest.mark.parametrize("value", ESCAPED)
@pytest.mark.parametrize("with_key", [False, True])
def test_the_fast_check_never_lets_a_known_value_through(value: str, with_key: bool) -> None:
    """Events are first checked on their JSON text; a value that JSON escapes (quotes,
    backslashes, control characters) or does not escape (non-ASCII) is still found."""
    forget_all()
    remember(value)
    if with_key:  # a multi-line key in the same process turns the fast check off
        remember(KEY)
    logged = DeploymentLogged(
        deployment_id="d",
        target="t",
        lines=(LogLine(at="2026-01-01T00:00:00Z", message=f"x{value}y"),),
    )
    assert redact_data(logged).lines[0].message == "x***y"
    failed = DeploymentFailed(deployment_id="d", target="t", step="restart", reason=f"<{value}>")
    assert redact_data(failed).reason == "<***>"
    clean = DeploymentFailed(deployment_id="d", target="t", step="restart", reason="nothing here")
    assert redact_data(clean) is clean


def test_log_lines_lose_known_values_nested_and_in_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("deployer", fmt="json")
    log = get_logger("t")
    log.info(
        f"saw {TOKEN}",
        detail={"inner": [f"x{TOKEN}x", ("t", TOKEN)], "auth": {"api_token": "abc"}},
        error=RuntimeError(f"bad {TOKEN}"),
    )
    try:
        raise ValueError(f"failed with {TOKEN}")
    except ValueError:
        log.exception("command failed")
    try:
        raise OSError(KEY)
    except OSError:
        logging.getLogger("asyncssh").exception("library %s", TOKEN)
    out = capsys.readouterr().err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["event"] == "saw ***"
    assert lines[0]["detail"] == {"inner": ["x***x", ["t", "***"]], "auth": {"api_token": "***"}}
    assert lines[0]["error"] == "RuntimeError: bad ***"
    assert "ValueError: failed with ***" in lines[1]["exception"]
    assert lines[2]["event"] == "library ***"
    for secret in (TOKEN, *KEY.splitlines()[1:3]):
        assert secret not in out


def test_the_long_parts_of_a_url_secret_are_masked_alone() -> None:
    webhook_token = "AbCdEf0123456789-canary-token"
    remember(f"discord://123456789012345678/{webhook_token}?avatar=no")
    assert redact(f"HTTP 401 from discord with token {webhook_token}") == (
        "HTTP 401 from discord with token ***"
    )
    assert redact("avatar=no") == "avatar=no"  # short parts stay


async def test_the_sink_publishes_events_without_known_values() -> None:
    sent: list[bytes] = []

    class FakeJetStream:
        async def publish(self, subject: str, payload: bytes, **_: Any) -> Any:
            sent.append(payload)
            return SimpleNamespace(duplicate=False)

    failed = DeploymentFailed(deployment_id="d", target="t", step="restart", reason=TOKEN)
    await JetStreamSink(FakeJetStream()).publish(new_event(failed, source="s", actor="a"))
    assert b"***" in sent[0] and TOKEN.encode() not in sent[0]


@pytest.mark.parametrize("value", ESCAPED)
@pytest.mark.parametrize("with_key", [False, True])
async def test_the_sink_checks_the_json_it_publishes_and_lets_no_known_value_through(
    value: str, with_key: bool
) -> None:
    """The sink looks for known values in the envelope's JSON, the bytes it publishes (the
    event is dumped once); whatever JSON does to a value, it is found and masked."""
    forget_all()
    remember(value)
    if with_key:  # a multi-line key turns the fast check off: every event is checked
        remember(KEY)
    sent: list[bytes] = []

    class FakeJetStream:
        async def publish(self, subject: str, payload: bytes, **_: Any) -> Any:
            sent.append(payload)
            return SimpleNamespace(duplicate=False)

    sink = JetStreamSink(FakeJetStream())
    logged = DeploymentLogged(
        deployment_id="d",
        target="t",
        lines=(LogLine(at="2026-01-01T00:00:00Z", message=f"x{value}y"),),
    )
    await sink.publish(new_event(logged, source="s", actor="a"))
    failed = DeploymentFailed(deployment_id="d", target="t", step="restart", reason=f"<{value}>")
    await sink.publish(new_event(failed, source="s", actor="a"))
    clean = new_event(
        DeploymentFailed(deployment_id="d", target="t", step="restart", reason="nothing here"),
        source="s",
        actor="a",
    )
    await sink.publish(clean)
    assert json.loads(sent[0])["data"]["lines"][0]["message"] == "x***y"
    assert json.loads(sent[1])["data"]["reason"] == "<***>"
    for payload in sent[:2]:
        assert not any(value in text for text in _strings(json.loads(payload)))
    assert sent[2] == clean.to_json()  # published as it was dumped


def _strings(value: Any) -> list[str]:
    """Every key and string anywhere in a parsed JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_fields_naming_secrets_keep_the_name_even_when_a_value_equals_it() -> None:
    remember("ha-token")
    assert redact_value({"ha_token_secret": "ha-token", "urls": ["ha-token"], "r": "ha-token"}) == {
        "ha_token_secret": "ha-token",
        "urls": ["ha-token"],
        "r": "***",
    }


async def test_command_replies_lose_known_values_even_in_an_internal_error() -> None:
    class Nothing(BaseModel):
        pass

    handlers: list[Any] = []
    replies: list[bytes] = []

    class FakeNats:
        async def subscribe(self, subject: str, queue: str, cb: Any) -> None:
            handlers.append(cb)

        async def flush(self) -> None:
            pass

    async def respond(data: bytes) -> None:
        replies.append(data)

    async def leaky(_: Nothing) -> dict[str, Any]:
        raise RuntimeError(f"could not use {TOKEN}")

    await serve_command(FakeNats(), "hearth.cmd.x.Y", Nothing, leaky, queue="q")
    await handlers[0](SimpleNamespace(data=b"{}", reply="inbox", respond=respond))
    assert json.loads(replies[0]) == {
        "ok": False,
        "error": "internal error: RuntimeError: could not use ***",
    }


def test_a_value_remembered_again_is_not_turned_into_its_forms_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every deployment decrypts its SSH key again: the key's forms (URL-quoting a 400-byte
    key three ways, line by line) were computed anew each time."""
    from hearth_servicekit import redaction

    forms = spy(monkeypatch, redaction, "_forms")
    remember(KEY)
    remember(KEY.encode())
    assert forms == []
    remember("another-secret-value")
    assert len(forms) == 2  # the value as given and stripped
    assert redact(f"x {KEY} another-secret-value") == "x *** ***"
