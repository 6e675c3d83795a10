"""Routing rules with fakes of the notifier's ports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from hearth_events import Envelope, EventData, new_event
from hearth_events.catalogue import (
    DeploymentFailed,
    DeploymentSucceeded,
    DeviceOffline,
    NotificationFailed,
    NotificationSent,
    RouteSpec,
)
from hearth_notifier.adapters.delivery import DeliveryFailed
from hearth_notifier.domain.messages import Message
from hearth_notifier.domain.registry import DeliveredLog
from hearth_notifier.domain.routes import default_routes, in_quiet_hours, route_matches
from hearth_notifier.handlers import NotificationRouter
from hearth_servicekit.consumer import RetryLater

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Secrets:
    async def get(self, name: str) -> bytes | None:
        return {"ops": b"json://127.0.0.1:1/hook", "mail": b"mailto://x"}.get(name)


class Deliverer:
    def __init__(self, failures: int = 0, permanent: bool = False) -> None:
        self.sent: list[tuple[str, Message]] = []
        self.failures = failures
        self.permanent = permanent

    async def prepare(self) -> None:
        pass

    async def deliver(self, url: str, message: Message) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryFailed("503", permanent=self.permanent)
        self.sent.append((url, message))


class Sink:
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    async def publish(self, envelope: Envelope) -> bool:
        self.events.append(envelope)
        return False


class Presence:
    def __init__(self, online: bool = False) -> None:
        self.online = online

    async def back_online(self, envelope: Envelope) -> bool:
        return self.online


def route(**fields: object) -> RouteSpec:
    base: dict[str, object] = {
        "name": "ops",
        "events": ["*Failed", "DeviceOffline"],
        "urls": ["ops"],
        "burst_s": 0.05,
        "throttle_s": 300,
    }
    return RouteSpec.model_validate({**base, **fields})


def event(data: EventData, age_s: float = 0) -> Envelope:
    return new_event(
        data, source="test", actor="github:alice", occurred_at=NOW - timedelta(seconds=age_s)
    )


def failed(target: str = "ha", reason: str = "disk full") -> Envelope:
    return event(DeploymentFailed(deployment_id="d1", target=target, step="upload", reason=reason))


def offline(device: str, age_s: float = 0, site: str = "garage") -> Envelope:
    return event(DeviceOffline(device_id=device, site=site), age_s)


def router(
    *specs: RouteSpec,
    deliverer: Deliverer | None = None,
    presence: bool = False,
    delivered: DeliveredLog | None = None,
) -> tuple[NotificationRouter, Deliverer, Sink]:
    deliverer = deliverer or Deliverer()
    sink = Sink()
    r = NotificationRouter(
        routes=lambda: list(specs),
        secrets=Secrets(),
        deliverer=deliverer,
        sink=sink,
        presence=Presence(presence),
        delivered=delivered or DeliveredLog(),
        source="test",
        dashboard_url="http://hearth.lan:8080",
        retry_delays=(0.0, 0.0, 0.0),
        now=lambda: NOW,
    )
    return r, deliverer, sink


async def test_a_failed_deployment_is_delivered_and_recorded() -> None:
    r, deliverer, sink = router(route())
    await r.handle(failed(reason="line 1\nline 2"))
    ((url, message),) = deliverer.sent
    assert url == "json://127.0.0.1:1/hook"
    assert message.title == "❌ Deployment to ha failed"
    assert "failed at step **upload**" in message.body
    assert "line 1\nline 2" in message.body
    assert "http://hearth.lan:8080/deployments/d1" in message.body
    assert message.notify_type == "failure"
    (recorded,) = sink.events
    assert isinstance(recorded.data, NotificationSent)
    assert (recorded.data.route, recorded.data.scheme) == ("ops", "json")
    assert "127.0.0.1" not in recorded.to_json().decode()  # never the URL


async def test_transient_failures_are_retried_then_recorded_as_sent() -> None:
    r, deliverer, sink = router(route(), deliverer=Deliverer(failures=2))
    await r.handle(failed())
    assert len(deliverer.sent) == 1
    assert isinstance(sink.events[0].data, NotificationSent)
    assert sink.events[0].data.attempts == 3


async def test_permanent_failures_are_recorded_and_settle_the_event() -> None:
    r, _, sink = router(route(), deliverer=Deliverer(failures=99))
    await r.handle(failed())
    (recorded,) = sink.events
    assert isinstance(recorded.data, NotificationFailed)
    assert (recorded.data.attempts, recorded.data.reason) == (4, "503")


async def test_a_missing_url_secret_is_a_failure_that_says_what_to_do() -> None:
    r, _, sink = router(route(urls=["nope"]))
    await r.handle(failed())
    (recorded,) = sink.events
    assert isinstance(recorded.data, NotificationFailed)
    assert "hearth secret set nope" in recorded.data.reason


async def test_the_same_key_is_throttled_within_the_window() -> None:
    r, deliverer, _ = router(route())
    await r.handle(failed("ha"))
    await r.handle(failed("ha"))
    await r.handle(failed("nginx"))
    assert len(deliverer.sent) == 2
    assert r.suppressed == 1


async def test_a_burst_becomes_one_summary() -> None:
    r, deliverer, sink = router(route(throttle_s=0))
    await asyncio.gather(*(r.handle(offline(f"shelly-{i:03}")) for i in range(100)))
    ((_, message),) = deliverer.sent
    assert message.title == "⚠️ 100 devices went offline at site garage"
    assert "- shelly-000" in message.body and "and 80 more" in message.body
    (recorded,) = sink.events
    assert len(recorded.data.event_ids) == 100  # type: ignore[attr-defined]


async def test_offline_waits_until_it_has_lasted_long_enough() -> None:
    spec = route(offline_after_s=300)
    r, deliverer, _ = router(spec)
    with pytest.raises(RetryLater) as later:
        await r.handle(offline("shelly-1", age_s=60))
    assert later.value.delay_s == pytest.approx(240)
    await r.handle(offline("shelly-2", age_s=301))
    assert len(deliverer.sent) == 1


async def test_a_device_that_came_back_is_not_reported() -> None:
    r, deliverer, _ = router(route(offline_after_s=300), presence=True)
    await r.handle(offline("shelly-1", age_s=400))
    assert deliverer.sent == []


async def test_events_already_notified_are_not_sent_again() -> None:
    delivered = DeliveredLog()
    envelope = failed()
    delivered.add("ops", [str(envelope.event_id)])
    r, deliverer, _ = router(route(), delivered=delivered)
    await r.handle(envelope)
    assert deliverer.sent == []


def test_routes_match_types_targets_and_severity() -> None:
    assert route_matches(route(targets=["ha*"]), failed("ha-main"))
    assert not route_matches(route(targets=["ha*"]), failed("nginx"))
    assert not route_matches(route(severities=["warning"]), failed())
    success = event(
        DeploymentSucceeded(deployment_id="d", target="ha", commit="a" * 40, duration_ms=5)
    )
    (default,) = default_routes(("ops",))
    assert route_matches(default, failed()) and not route_matches(default, success)
    with_success = default_routes(("ops",), include_success=True)
    assert any(route_matches(r, success) for r in with_success)


@pytest.mark.parametrize(
    ("hours", "clock", "quiet"),
    [
        ("22:00-07:00", "23:30", True),
        ("22:00-07:00", "06:59", True),
        ("22:00-07:00", "12:00", False),
        ("13:00-14:00", "13:30", True),
    ],
)
def test_quiet_hours(hours: str, clock: str, quiet: bool) -> None:
    hour, minute = map(int, clock.split(":"))
    assert in_quiet_hours(route(quiet_hours=hours), NOW.replace(hour=hour, minute=minute)) is quiet
