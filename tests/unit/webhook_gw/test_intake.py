"""The gateway's rules, with small fakes of its two ports."""

from __future__ import annotations

import json

import githubkit.webhooks
import pytest

from hearth_events import Envelope
from hearth_events.catalogue import CiCompleted, PushReceived
from hearth_servicekit.publishing import BusUnavailable
from hearth_webhook_gw.domain.deliveries import MAX_BODY_BYTES, Delivery, HookSecret, NoSecret
from hearth_webhook_gw.domain.signature import sign, signature_matches
from hearth_webhook_gw.handlers import accept_delivery
from tests.support.github import ZERO, delivery_headers, encode, push_payload, sha
from tests.support.github import workflow_run_payload as run_payload

SECRET = b"It's a Secret to Everybody"


class FakeSecrets:
    def __init__(self, secrets: dict[str, bytes]) -> None:
        self.secrets = secrets

    async def all_secrets(self) -> list[HookSecret]:
        return [HookSecret(f"hook-{r}", v, frozenset({r})) for r, v in self.secrets.items()]

    async def secret_for(self, repo: str) -> tuple[str, bytes] | NoSecret:
        value = self.secrets.get(repo.lower())
        return ("hook", value) if value is not None else NoSecret(f"no repository {repo}")


class FakeSink:
    def __init__(self, *, down: bool = False) -> None:
        self.stored: dict[str, Envelope] = {}
        self.down = down

    async def publish(self, envelope: Envelope) -> bool:
        if self.down:
            raise BusUnavailable("timeout")
        duplicate = str(envelope.event_id) in self.stored
        self.stored.setdefault(str(envelope.event_id), envelope)
        return duplicate


def delivery(
    event: str, body: bytes, secret: bytes | None = SECRET, content_type: str | None = None
) -> Delivery:
    headers = delivery_headers(event, body, secret)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return Delivery(
        event=headers.get("X-GitHub-Event"),
        delivery_id=headers.get("X-GitHub-Delivery"),
        signature=headers.get("X-Hub-Signature-256"),
        content_type=headers.get("Content-Type"),
        body=body,
    )


@pytest.fixture
def secrets() -> FakeSecrets:
    return FakeSecrets({"alice/home-config": SECRET})


def test_signature_matches_githubs_test_vector() -> None:
    assert sign(SECRET, b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )
    assert signature_matches(SECRET, b"Hello, World!", sign(SECRET, b"Hello, World!"))
    assert not signature_matches(SECRET, b"Hello, World!", None)
    assert not signature_matches(SECRET, b"Hello, World!", "sha1=abc")


def test_a_signature_must_match_exactly_whatever_the_header_holds() -> None:
    good = sign(SECRET, b"x")
    assert signature_matches(SECRET, b"x", good + "\r\n")  # trailing whitespace is no part
    for bad in (good[:-1], good + "0", good[:7] + good[7:].upper(), "sha256=", "sha256=ü" * 32):
        assert not signature_matches(SECRET, b"x", bad)
    assert not signature_matches(SECRET, b"y", good)
    assert not signature_matches(b"another secret", b"x", good)


def test_signature_agrees_with_githubkit() -> None:
    body = encode(push_payload())
    assert githubkit.webhooks.verify(SECRET.decode(), body, sign(SECRET, body))
    assert signature_matches(SECRET, body, githubkit.webhooks.sign(SECRET.decode(), body))


async def test_a_branch_push_becomes_push_received(secrets: FakeSecrets) -> None:
    sink = FakeSink()
    payload = push_payload(files={"added": ["automations.yaml"], "modified": [], "removed": []})
    reply = await accept_delivery(delivery("push", encode(payload)), secrets, sink, source="gw")
    assert reply.status == 202
    (envelope,) = sink.stored.values()
    data = envelope.data
    assert isinstance(data, PushReceived)
    assert (data.repo, data.branch, data.tag, data.source) == (
        "alice/home-config",
        "main",
        None,
        "webhook",
    )
    assert data.after == payload["after"]
    assert data.commits[0].added == ("automations.yaml",)
    assert data.commits[0].author == "alice"
    assert envelope.actor == "github:alice"
    assert envelope.correlation_id == data.delivery_id
    assert reply.body["event_id"] == str(envelope.event_id)


async def test_tag_pushes_and_deletions_are_recorded_as_such(secrets: FakeSecrets) -> None:
    sink = FakeSink()
    tag = push_payload(ref="refs/tags/v1.0")
    deletion = push_payload(after=ZERO)
    for payload in (tag, deletion):
        reply = await accept_delivery(delivery("push", encode(payload)), secrets, sink, source="gw")
        assert reply.status == 202
    tag_event, deletion_event = (e.data for e in sink.stored.values())
    assert isinstance(tag_event, PushReceived) and isinstance(deletion_event, PushReceived)
    assert (tag_event.tag, tag_event.branch) == ("v1.0", None)
    assert deletion_event.deleted and deletion_event.commits == ()


async def test_a_new_branch_is_marked_created(secrets: FakeSecrets) -> None:
    sink = FakeSink()
    await accept_delivery(
        delivery("push", encode(push_payload(before=ZERO))), secrets, sink, source="gw"
    )
    (envelope,) = sink.stored.values()
    assert isinstance(envelope.data, PushReceived) and envelope.data.created


async def test_redelivery_and_a_poll_of_the_same_push_share_one_event_id(
    secrets: FakeSecrets,
) -> None:
    sink = FakeSink()
    body = encode(push_payload())
    first = await accept_delivery(delivery("push", body), secrets, sink, source="gw")
    again = await accept_delivery(delivery("push", body), secrets, sink, source="gw")
    assert first.body["event_id"] == again.body["event_id"]
    assert again.body["duplicate"] is True
    assert len(sink.stored) == 1


@pytest.mark.parametrize(
    ("signature", "repo_known"),
    [(None, True), ("sha256=" + "0" * 64, True), ("garbage", True), (None, False)],
)
async def test_missing_wrong_or_unverifiable_signatures_get_401_and_nothing_is_published(
    signature: str | None,
    repo_known: bool,
) -> None:
    secrets = FakeSecrets({"alice/home-config": SECRET} if repo_known else {})
    sink = FakeSink()
    body = encode(push_payload())
    d = delivery("push", body, secret=None)
    d = Delivery(d.event, d.delivery_id, signature, d.content_type, d.body)
    reply = await accept_delivery(d, secrets, sink, source="gw")
    assert reply.status == 401
    assert reply.body["error"] == "bad signature"
    assert sink.stored == {}


async def test_a_body_signed_with_another_secret_is_refused(secrets: FakeSecrets) -> None:
    sink = FakeSink()
    reply = await accept_delivery(
        delivery("push", encode(push_payload()), secret=b"other"), secrets, sink, source="gw"
    )
    assert reply.status == 401
    assert sink.stored == {}


async def test_oversized_bodies_get_413(secrets: FakeSecrets) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    reply = await accept_delivery(delivery("push", body), secrets, FakeSink(), source="gw")
    assert reply.status == 413


async def test_form_encoded_deliveries_get_415_with_the_fix(secrets: FakeSecrets) -> None:
    body = b"payload=%7B%7D"
    d = delivery("push", body, content_type="application/x-www-form-urlencoded")
    reply = await accept_delivery(d, secrets, FakeSink(), source="gw")
    assert reply.status == 415
    assert "application/json" in reply.body["detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "Expecting property name"),
        (b"[1]", "JSON object"),
        (b'{"zen": "x"}', "repository.full_name is missing"),
    ],
)
async def test_malformed_json_gets_400_with_the_reason(
    secrets: FakeSecrets, body: bytes, detail: str
) -> None:
    sink = FakeSink()
    reply = await accept_delivery(delivery("push", body), secrets, sink, source="gw")
    assert reply.status == 400
    assert detail in reply.body["detail"]
    assert sink.stored == {}


async def test_a_push_missing_fields_gets_400_naming_them(secrets: FakeSecrets) -> None:
    payload = push_payload()
    del payload["after"]
    payload["before"] = "not-a-sha"
    sink = FakeSink()
    reply = await accept_delivery(delivery("push", encode(payload)), secrets, sink, source="gw")
    assert reply.status == 400
    assert "after: Field required" in reply.body["detail"]
    assert "before" in reply.body["detail"]
    assert sink.stored == {}


async def test_a_push_naming_a_commit_by_a_short_id_gets_400_naming_it(
    secrets: FakeSecrets,
) -> None:
    """The event is built from the payload without validating again, so the payload model
    holds commit ids to what the event needs: full ids."""
    payload = push_payload(commits=2)
    payload["commits"][1]["id"] = "abc1234"
    sink = FakeSink()
    reply = await accept_delivery(delivery("push", encode(payload)), secrets, sink, source="gw")
    assert reply.status == 400
    assert reply.body["error"] == "malformed push payload"
    assert "commits.1.id: String should match pattern" in reply.body["detail"]
    assert sink.stored == {}


async def test_missing_github_headers_get_400(secrets: FakeSecrets) -> None:
    body = encode(push_payload())
    d = delivery("push", body)
    reply = await accept_delivery(
        Delivery(d.event, None, d.signature, d.content_type, body), secrets, FakeSink(), source="gw"
    )
    assert reply.status == 400
    assert "X-GitHub-Delivery" in reply.body["detail"]


async def test_ping_is_answered(secrets: FakeSecrets) -> None:
    body = encode(
        {
            "zen": "Keep it logically awesome.",
            "hook_id": 42,
            "repository": {"full_name": "alice/home-config"},
        }
    )
    sink = FakeSink()
    reply = await accept_delivery(delivery("ping", body), secrets, sink, source="gw")
    assert reply.status == 200
    assert sink.stored == {}


async def test_completed_workflow_runs_become_ci_completed(secrets: FakeSecrets) -> None:
    sink = FakeSink()
    reply = await accept_delivery(
        delivery("workflow_run", encode(run_payload(conclusion="failure"))),
        secrets,
        sink,
        source="gw",
    )
    assert reply.status == 202
    (envelope,) = sink.stored.values()
    assert isinstance(envelope.data, CiCompleted)
    assert (envelope.data.commit, envelope.data.conclusion) == (sha("after"), "failure")


async def test_check_suites_become_ci_completed(secrets: FakeSecrets) -> None:
    sink = FakeSink()
    payload = {
        "action": "completed",
        "check_suite": {
            "head_sha": sha("x"),
            "head_branch": "main",
            "conclusion": "success",
            "app": {"name": "GitHub Actions"},
        },
        "repository": {"full_name": "alice/home-config"},
    }
    reply = await accept_delivery(
        delivery("check_suite", encode(payload)), secrets, sink, source="gw"
    )
    assert reply.status == 202
    (envelope,) = sink.stored.values()
    assert isinstance(envelope.data, CiCompleted) and envelope.data.name == "GitHub Actions"


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("workflow_run", run_payload(action="requested", conclusion=None)),
        ("issues", {"action": "opened", "repository": {"full_name": "alice/home-config"}}),
        ("star", {"action": "created", "repository": {"full_name": "alice/home-config"}}),
    ],
)
async def test_other_deliveries_are_accepted_and_ignored(
    secrets: FakeSecrets, event: str, payload: dict[str, object]
) -> None:
    sink = FakeSink()
    reply = await accept_delivery(delivery(event, encode(payload)), secrets, sink, source="gw")
    assert reply.status == 202
    assert reply.body["ignored"] is True
    assert sink.stored == {}


async def test_a_bus_that_does_not_ack_gets_503(secrets: FakeSecrets) -> None:
    reply = await accept_delivery(
        delivery("push", encode(push_payload())), secrets, FakeSink(down=True), source="gw"
    )
    assert reply.status == 503
    assert "redeliver" in reply.body["detail"]


async def test_an_unreachable_secret_store_gets_503_not_401() -> None:
    class DownSecrets:
        async def all_secrets(self) -> list[HookSecret]:
            raise BusUnavailable("timeout")

        async def secret_for(self, repo: str) -> tuple[str, bytes] | NoSecret:
            raise BusUnavailable("timeout")

    sink = FakeSink()
    reply = await accept_delivery(
        delivery("push", encode(push_payload())), DownSecrets(), sink, source="gw"
    )
    assert reply.status == 503
    assert sink.stored == {}


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64])
async def test_an_unsigned_body_is_refused_before_it_is_parsed(
    secrets: FakeSecrets, monkeypatch: pytest.MonkeyPatch, signature: str | None
) -> None:
    parsed: list[bytes] = []
    real_loads = json.loads

    def spying_loads(data: bytes) -> object:
        parsed.append(data)
        return real_loads(data)

    monkeypatch.setattr(json, "loads", spying_loads)  # the module intake parses with
    big = (
        b'{"repository": {"full_name": "alice/home-config"}, "pad": "'
        + b"x" * (MAX_BODY_BYTES - 100)
        + b'"}'
    )
    for body in (big, b"{not json"):
        d = delivery("push", body, secret=None)
        d = Delivery(d.event, d.delivery_id, signature, d.content_type, d.body)
        reply = await accept_delivery(d, secrets, FakeSink(), source="gw")
        assert reply.status == 401, body[:20]
    assert big not in parsed


async def test_a_body_signed_for_one_repository_cannot_name_another() -> None:
    secrets = FakeSecrets({"alice/home-config": SECRET, "bob/lab": b"bob's secret"})
    sink = FakeSink()
    body = encode(push_payload("alice/home-config"))
    reply = await accept_delivery(
        delivery("push", body, secret=b"bob's secret"), secrets, sink, source="gw"
    )
    assert reply.status == 401
    assert sink.stored == {}
