"""The webhook gateway as a real process on a real JetStream, fed GitHub-shaped deliveries."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_events import parse_event
from hearth_events.catalogue import PushReceived
from hearth_events.jetstream import EVENTS_STREAM, ensure
from tests.support.github import delivery_headers, encode, push_payload, sha
from tests.support.services import ServiceProcess, scoped_secrets

pytestmark = pytest.mark.integration

SECRET = b"webhook-secret-of-alice"
REPO = {
    "name": "alice/home-config",
    "url": "https://github.com/alice/home-config.git",
    "provider": "github",
    "webhook_secret": "alice-webhook",
}


def post(port: int, event: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/github", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


async def setup_bus(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure(js, streams=(EVENTS_STREAM,), buckets=("hearth_secrets",))
    await scoped_secrets(js, "webhook-gw").put("alice-webhook", SECRET)
    await nc.close()


async def apply_repositories(url: str, repositories: list[dict[str, Any]]) -> dict[str, Any]:
    nc = await nats.connect(url)
    reply = await nc.request(
        "hearth.cmd.git.ApplyRepositories",
        json.dumps({"repositories": repositories}).encode(),
        timeout=10,
    )
    await nc.close()
    result: dict[str, Any] = json.loads(reply.data)
    return result


async def stored_pushes(url: str) -> list[tuple[str, str]]:
    """(Nats-Msg-Id, after) of every PushReceived in the stream."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.subscribe("hearth.evt.git.PushReceived.>", ordered_consumer=True)
    found: list[tuple[str, str]] = []
    info = await js.stream_info(EVENTS_STREAM)
    try:
        while True:
            message = await sub.next_msg(timeout=0.5)
            envelope = parse_event(message.data)
            assert isinstance(envelope.data, PushReceived)
            msg_id = (message.headers or {}).get("Nats-Msg-Id", "")
            assert msg_id == str(envelope.event_id)
            found.append((msg_id, envelope.data.after))
    except nats.errors.TimeoutError:
        pass
    await nc.close()
    assert info.config.name == EVENTS_STREAM
    return found


async def test_signed_pushes_are_stored_once_and_forgeries_never(
    nats_factory: Callable[..., EmbeddedNats], start_service: Callable[..., ServiceProcess]
) -> None:
    server = nats_factory()
    await setup_bus(server.url)
    gateway = start_service("webhook-gw", HEARTH_NATS_URL=server.url)
    gateway.wait_for("/readyz", 200)

    reply = await apply_repositories(server.url, [REPO])
    assert reply == {
        "ok": True,
        "dry_run": False,
        "changes": [{"type": "RepositoryRegistered", "name": "alice/home-config"}],
    }

    body = encode(push_payload())
    headers = delivery_headers("push", body, SECRET)
    status, first = post(gateway.port, "push", body, headers)
    assert (status, first["duplicate"]) == (202, False)

    # GitHub's "Redeliver" button sends the same delivery again: acknowledged, stored once.
    status, again = post(gateway.port, "push", body, headers)
    assert (status, again["duplicate"], again["event_id"]) == (202, True, first["event_id"])

    forged = encode(push_payload(after=sha("evil")))
    status, _ = post(gateway.port, "push", forged, delivery_headers("push", forged, b"x"))
    assert status == 401

    assert await stored_pushes(server.url) == [(first["event_id"], sha("after"))]

    # A restarted gateway rebuilds its repository registry from the stream.
    assert gateway.terminate() == 0
    gateway = start_service("webhook-gw", HEARTH_NATS_URL=server.url)
    gateway.wait_for("/readyz", 200)
    second = encode(push_payload(before=sha("after"), after=sha("next")))
    status, _ = post(gateway.port, "push", second, delivery_headers("push", second, SECRET))
    assert status == 202
    assert [after for _, after in await stored_pushes(server.url)] == [sha("after"), sha("next")]


async def test_a_bus_outage_answers_503_in_time_for_github_to_redeliver(
    nats_factory: Callable[..., EmbeddedNats], start_service: Callable[..., ServiceProcess]
) -> None:
    server = nats_factory()
    await setup_bus(server.url)
    gateway = start_service("webhook-gw", HEARTH_NATS_URL=server.url)
    gateway.wait_for("/readyz", 200)
    await apply_repositories(server.url, [REPO])

    server.stop()
    body = encode(push_payload())
    headers = delivery_headers("push", body, SECRET)
    started = time.monotonic()
    status, reply = post(gateway.port, "push", body, headers)
    assert status == 503, reply
    assert time.monotonic() - started < 10, "GitHub gives up after 10 s"

    server.start()
    gateway.wait_for("/readyz", 200)
    status, reply = post(gateway.port, "push", body, headers)  # GitHub's redelivery
    assert (status, reply["duplicate"]) == (202, False)  # the 503 had stored nothing
    assert [after for _, after in await stored_pushes(server.url)] == [sha("after")]


async def test_repository_declarations_are_validated(
    nats_url: str, start_service: Callable[..., ServiceProcess]
) -> None:
    await setup_bus(nats_url)
    gateway = start_service("webhook-gw", HEARTH_NATS_URL=nats_url)
    gateway.wait_for("/readyz", 200)
    reply = await apply_repositories(nats_url, [{**REPO, "provider": "gitlab", "colour": "red"}])
    assert reply["ok"] is False
    assert "repositories.0.provider" in reply["error"]
    assert "repositories.0.colour: Extra inputs are not permitted" in reply["error"]
    reply = await apply_repositories(nats_url, [REPO, {**REPO, "name": "Alice/Home-Config"}])
    assert reply == {"ok": False, "error": "declared twice: alice/home-config"}


def refusals(gateway: ServiceProcess) -> dict[str, str]:
    """The reason of every "webhook refused" line in the gateway's log, by repository."""
    found = {}
    for line in gateway.log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "webhook refused":
            found[entry["repo"]] = entry["reason"]
    return found


async def test_refusals_look_alike_outside_and_say_the_truth_in_the_log(
    nats_factory: Callable[..., EmbeddedNats], start_service: Callable[..., ServiceProcess]
) -> None:
    server = nats_factory()
    await setup_bus(server.url)
    gateway = start_service("webhook-gw", HEARTH_NATS_URL=server.url)
    gateway.wait_for("/readyz", 200)
    no_hook = {"name": "alice/no-hook", "url": "https://github.com/alice/no-hook.git"}
    assert (await apply_repositories(server.url, [REPO, no_hook]))["ok"]

    replies = {}
    for repo, secret in [
        ("bob/unknown", SECRET),
        ("alice/no-hook", SECRET),
        ("alice/home-config", b"not-the-secret"),
    ]:
        body = encode(push_payload(repo))
        replies[repo] = post(gateway.port, "push", body, delivery_headers("push", body, secret))
    assert {status for status, _ in replies.values()} == {401}
    # From outside, an unknown repository and a wrong signature are indistinguishable.
    assert replies["bob/unknown"][1] == replies["alice/home-config"][1]
    assert "Hearth has for this repository" not in json.dumps(replies["bob/unknown"][1])
    assert await stored_pushes(server.url) == []

    assert gateway.terminate() == 0
    reasons = refusals(gateway)
    assert reasons["bob/unknown"].startswith(
        "no repository named bob/unknown is declared; declare it in hearth.yaml under repositories"
    )
    assert reasons["alice/no-hook"].startswith(
        "repository alice/no-hook is declared without a webhook_secret"
    )
    assert reasons["alice/home-config"] == (
        "X-Hub-Signature-256 does not match the webhook secret 'alice-webhook' of alice/home-config"
    )
    assert SECRET.decode() not in gateway.log.read_text()


def ping(port: int, secret: bytes) -> int:
    body = encode({"zen": "Keep it logically awesome.", "repository": {"full_name": REPO["name"]}})
    status, _ = post(port, "ping", body, delivery_headers("ping", body, secret))
    return status


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the gateway did not take the change in time"
        time.sleep(0.05)


async def test_a_rotated_secret_takes_effect_without_a_restart(
    nats_factory: Callable[..., EmbeddedNats], start_service: Callable[..., ServiceProcess]
) -> None:
    """The gateway holds the webhook secrets in memory (no bucket read per delivery); a
    rotation or removal reaches it at once: the old signature is refused, the new accepted."""
    server = nats_factory()
    await setup_bus(server.url)
    gateway = start_service("webhook-gw", HEARTH_NATS_URL=server.url)
    gateway.wait_for("/readyz", 200)
    await apply_repositories(server.url, [REPO])
    assert ping(gateway.port, SECRET) == 200

    rotated = b"the-rotated-webhook-secret"
    nc = await nats.connect(server.url)
    secrets = scoped_secrets(nc.jetstream(), "webhook-gw")
    await secrets.put("alice-webhook", rotated)
    eventually(lambda: ping(gateway.port, rotated) == 200)
    assert ping(gateway.port, SECRET) == 401

    await secrets.delete("alice-webhook")
    eventually(lambda: ping(gateway.port, rotated) == 401)
    await secrets.put("alice-webhook", SECRET)
    eventually(lambda: ping(gateway.port, SECRET) == 200)
    assert ping(gateway.port, rotated) == 401
    await nc.close()
    assert gateway.terminate() == 0
