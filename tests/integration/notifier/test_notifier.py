"""The notifier process on a real JetStream, delivering through Apprise to real peers."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from typing import Any

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_events import Envelope, EventData, new_event, parse_event
from hearth_events.catalogue import DeploymentFailed, DeviceOffline
from hearth_events.jetstream import BUCKETS, CONSUMERS, EVENTS_STREAM, STREAMS, ensure
from hearth_events.publish import publish_event
from tests.support.receivers import HttpReceiver, SmtpServer
from tests.support.services import ServiceProcess, scoped_secrets

pytestmark = pytest.mark.integration


class Bus:
    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> Any:
        self.nc = await nats.connect(self.url)
        self.js = self.nc.jetstream()
        await ensure(self.js, streams=tuple(STREAMS), buckets=tuple(BUCKETS))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.close()

    async def secret(self, name: str, value: str) -> None:
        await scoped_secrets(self.js, "notifier").put(name, value.encode())

    async def command(self, subject: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.nc.request(subject, json.dumps(body).encode(), timeout=15)
        result: dict[str, Any] = json.loads(reply.data)
        return result

    async def publish(self, *datas: EventData) -> list[Envelope]:
        envelopes = [new_event(d, source="test", actor="github:alice") for d in datas]
        await asyncio.gather(*(publish_event(self.js, e) for e in envelopes))
        return envelopes

    async def recorded(self, event_type: str) -> list[Envelope]:
        sub = await self.js.subscribe(f"hearth.evt.notify.{event_type}.>", ordered_consumer=True)
        found = []
        try:
            while True:
                found.append(parse_event((await sub.next_msg(timeout=0.5)).data))
        except nats.errors.TimeoutError:
            pass
        await sub.unsubscribe()
        return found

    async def wait_recorded(
        self, event_type: str, count: int, timeout: float = 30
    ) -> list[Envelope]:
        async with asyncio.timeout(timeout):
            while len(found := await self.recorded(event_type)) < count:
                await asyncio.sleep(0.2)
        return found


def failed(target: str = "ha") -> DeploymentFailed:
    return DeploymentFailed(
        deployment_id=f"dep-{target}",
        target=target,
        step="health_check",
        reason="Home Assistant did not report RUNNING within 120s",
    )


@pytest.fixture
def notifier_on(start_service: Callable[..., ServiceProcess]) -> Callable[[str], ServiceProcess]:
    def start(url: str) -> ServiceProcess:
        service = start_service(
            "notifier", HEARTH_NATS_URL=url, HEARTH_PUBLIC_URL="http://hearth.lan:8080"
        )
        service.wait_for("/readyz", 200)
        return service

    return start


async def routes(bus: Bus, *specs: dict[str, Any]) -> None:
    reply = await bus.command("hearth.cmd.notify.ApplyRoutes", {"routes": list(specs)})
    assert reply["ok"], reply


async def test_json_delivery_carries_the_exact_title_body_and_type(
    nats_factory: Callable[..., EmbeddedNats],
    notifier_on: Callable[[str], ServiceProcess],
    receiver: HttpReceiver,
) -> None:
    server = nats_factory()
    async with Bus(server.url) as bus:
        await bus.secret("ops-hook", receiver.url())
        notifier_on(server.url)
        await routes(
            bus,
            {"name": "ops", "events": ["DeploymentFailed"], "urls": ["ops-hook"], "burst_s": 0.1},
        )
        await bus.publish(failed())
        (got,) = await receiver.wait_for(1)
        assert got["title"] == "❌ Deployment to ha failed"
        assert got["type"] == "failure"
        assert got["message"] == (
            "**ha**: deployment `dep-ha` failed at step **health_check**.\n\n"
            "```\nHome Assistant did not report RUNNING within 120s\n```\n\n"
            "[Open in Hearth](http://hearth.lan:8080/deployments/dep-ha) · github:alice"
        )
        (sent,) = await bus.wait_recorded("NotificationSent", 1)
        assert (sent.data.route, sent.data.scheme) == ("ops", "json")


async def test_mailto_delivers_an_email_with_the_subject_and_body(
    nats_factory: Callable[..., EmbeddedNats],
    notifier_on: Callable[[str], ServiceProcess],
    smtp_server: SmtpServer,
) -> None:
    server = nats_factory()
    async with Bus(server.url) as bus:
        await bus.secret(
            "mail",
            f"mailto://127.0.0.1:{smtp_server.port}?from=hearth@example.com&to=alice@example.com",
        )
        notifier_on(server.url)
        await routes(bus, {"name": "mail", "events": ["*Failed"], "urls": ["mail"], "burst_s": 0.1})
        await bus.publish(failed("nginx"))
        (mail,) = await smtp_server.wait_for(1)
        assert mail["Subject"] == "❌ Deployment to nginx failed"
        assert mail["To"] == "alice@example.com"
        parts = {
            part.get_content_type(): part.get_content()
            for part in mail.walk()
            if not part.is_multipart()
        }
        # Markdown becomes HTML in the mail, and plain text beside it.
        assert "failed at step health_check." in parts["text/plain"]
        assert "<strong>health_check</strong>" in parts["text/html"]


async def test_a_flaky_receiver_gets_one_message_and_retries_are_recorded(
    nats_factory: Callable[..., EmbeddedNats],
    notifier_on: Callable[[str], ServiceProcess],
    receiver: HttpReceiver,
) -> None:
    receiver.fail_first = 2
    server = nats_factory()
    async with Bus(server.url) as bus:
        await bus.secret("hook", receiver.url())
        notifier_on(server.url)
        await routes(
            bus, {"name": "ops", "events": ["DeploymentFailed"], "urls": ["hook"], "burst_s": 0.1}
        )
        await bus.publish(failed())
        (sent,) = await bus.wait_recorded("NotificationSent", 1)
        assert sent.data.attempts == 3
        assert len(receiver.received) == 1


async def test_a_dead_receiver_fails_for_good_and_the_consumer_moves_on(
    nats_factory: Callable[..., EmbeddedNats],
    notifier_on: Callable[[str], ServiceProcess],
    receiver: HttpReceiver,
) -> None:
    dead = HttpReceiver(always_fail=True)
    await dead.start()
    server = nats_factory()
    try:
        async with Bus(server.url) as bus:
            await bus.secret("dead", dead.url())
            await bus.secret("alive", receiver.url())
            notifier_on(server.url)
            await routes(
                bus,
                {
                    "name": "broken",
                    "events": ["DeploymentFailed"],
                    "urls": ["dead"],
                    "burst_s": 0.1,
                },
                {"name": "fine", "events": ["DeviceOffline"], "urls": ["alive"], "burst_s": 0.1},
            )
            await bus.publish(failed())
            await bus.publish(DeviceOffline(device_id="shelly-1"))
            await receiver.wait_for(1)
            (failure,) = await bus.wait_recorded("NotificationFailed", 1)
            assert (failure.data.route, failure.data.attempts) == ("broken", 4)
            async with asyncio.timeout(5):  # nothing is stuck (acks are counted a moment later)
                while (
                    await bus.js.consumer_info(EVENTS_STREAM, CONSUMERS["notifier"].name)
                ).num_ack_pending:
                    await asyncio.sleep(0.02)
    finally:
        await dead.stop()


async def test_a_notifier_killed_before_sending_delivers_exactly_once_after_restart(
    nats_factory: Callable[..., EmbeddedNats],
    notifier_on: Callable[[str], ServiceProcess],
    receiver: HttpReceiver,
) -> None:
    server = nats_factory()
    async with Bus(server.url) as bus:
        await bus.secret("hook", receiver.url())
        notifier = notifier_on(server.url)
        await routes(
            bus, {"name": "ops", "events": ["DeploymentFailed"], "urls": ["hook"], "burst_s": 3}
        )
        await bus.publish(failed())
        async with asyncio.timeout(10):  # the notifier holds the event, waiting out the burst
            while (await bus.js.consumer_info(EVENTS_STREAM, "notifier")).num_ack_pending == 0:
                await asyncio.sleep(0.05)
        notifier.process.send_signal(signal.SIGKILL)
        notifier.process.wait()
        assert receiver.received == []

        notifier_on(server.url)
        await receiver.wait_for(1, timeout=40)  # redelivered once the ack wait runs out
        await asyncio.sleep(4)
        assert len(receiver.received) == 1
        assert len(await bus.recorded("NotificationSent")) == 1


async def test_a_burst_of_offline_devices_is_one_summary_per_route(
    nats_factory: Callable[..., EmbeddedNats],
    notifier_on: Callable[[str], ServiceProcess],
    receiver: HttpReceiver,
    smtp_server: SmtpServer,
) -> None:
    server = nats_factory()
    async with Bus(server.url) as bus:
        await bus.secret("hook", receiver.url())
        await bus.secret(
            "mail",
            f"mailto://127.0.0.1:{smtp_server.port}?from=hearth@example.com&to=alice@example.com",
        )
        notifier_on(server.url)
        await routes(
            bus,
            {"name": "chat", "events": ["DeviceOffline"], "urls": ["hook"], "burst_s": 3},
            {"name": "mail", "events": ["Device*"], "urls": ["mail"], "burst_s": 3},
        )
        await bus.publish(
            *(DeviceOffline(device_id=f"shelly-{i:03}", site="garage") for i in range(100))
        )
        (chat,) = await receiver.wait_for(1)
        (mail,) = await smtp_server.wait_for(1)
        assert chat["title"] == mail["Subject"] == "⚠️ 100 devices went offline at site garage"
        await asyncio.sleep(1)
        assert len(receiver.received) == 1 and len(smtp_server.inbox.messages) == 1


async def test_bad_routes_are_refused_with_the_route_and_the_reason(
    nats_factory: Callable[..., EmbeddedNats],
    notifier_on: Callable[[str], ServiceProcess],
) -> None:
    server = nats_factory()
    async with Bus(server.url) as bus:
        await bus.secret("weird", "nope://somewhere")
        await bus.secret("garbage", "not a url at all")
        await bus.secret("fine", "json://127.0.0.1:9/x")
        notifier_on(server.url)
        reply = await bus.command(
            "hearth.cmd.notify.ApplyRoutes",
            {
                "routes": [
                    {"name": "a", "events": ["DeploymentExploded"], "urls": ["fine"]},
                    {"name": "b", "events": ["*"], "urls": ["weird", "garbage", "missing"]},
                ]
            },
        )
        assert reply["ok"] is False
        assert reply["error"] == (
            "route a: event pattern 'DeploymentExploded' matches no event type; "
            "route b: secret 'weird': unknown or malformed Apprise URL for scheme 'nope'; "
            "route b: secret 'garbage': not a URL (expected scheme://...); "
            "route b: secret 'missing' does not exist"
        )
        assert await bus.recorded("RouteRegistered") == []


async def test_the_test_command_reports_per_url(
    nats_factory: Callable[..., EmbeddedNats],
    notifier_on: Callable[[str], ServiceProcess],
    receiver: HttpReceiver,
) -> None:
    dead = HttpReceiver(always_fail=True)
    await dead.start()
    server = nats_factory()
    try:
        async with Bus(server.url) as bus:
            await bus.secret("alive", receiver.url())
            await bus.secret("dead", dead.url())
            notifier_on(server.url)
            reply = await bus.command(
                "hearth.cmd.notify.ApplyRoutes", {"default_urls": ["alive", "dead"]}
            )
            assert reply["ok"], reply
            result = await bus.command("hearth.cmd.notify.TestNotification", {})
            assert result["ok"] is True
            outcomes = {(r["secret"], r["scheme"], r["ok"]) for r in result["results"]}
            assert outcomes == {("alive", "json", True), ("dead", "json", False)}
            assert receiver.received[0]["title"] == "Hearth test notification"
    finally:
        await dead.stop()
