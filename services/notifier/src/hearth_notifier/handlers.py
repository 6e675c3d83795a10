"""Every reaction of the notifier.

Events: ``NotificationRouter.handle`` routes each event to the people who want it: match,
wait out flaps, throttle, gather bursts, deliver, and record what happened as
NotificationSent / NotificationFailed.
Commands: ``apply_routes`` (ApplyRoutes) and ``send_test`` (TestNotification).

A handler returns only when its notifications are settled (sent, or failed for good), so
the consumer acks the event only then. Deliveries already recorded are not repeated when an
event comes again after a crash.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hearth_events import Envelope, derived_event_id, new_event
from hearth_events.catalogue import NotificationFailed, NotificationSent, RouteSpec
from hearth_events.credentials import route_problems
from hearth_notifier.adapters import SecretLookup
from hearth_notifier.adapters.delivery import (
    Deliverer,
    check_url,
    deliver_with_retries,
    scheme_of,
)
from hearth_notifier.adapters.presence import Presence
from hearth_notifier.domain.bursts import BurstCollector, Gate
from hearth_notifier.domain.messages import Message, render_summary
from hearth_notifier.domain.registry import DeliveredLog, RouteRegistry
from hearth_notifier.domain.routes import (
    DEFAULT_OFFLINE_AFTER_S,
    OFFLINE_EVENTS,
    default_routes,
    in_quiet_hours,
    route_matches,
    unknown_patterns,
)
from hearth_servicekit import get_logger
from hearth_servicekit.commands import CommandRejected
from hearth_servicekit.consumer import RetryLater
from hearth_servicekit.declarations import ApplyCommand, apply_declarations
from hearth_servicekit.faults import fault_point
from hearth_servicekit.publishing import EventSink

log = get_logger("hearth.notifier")


class NotificationRouter:
    def __init__(
        self,
        *,
        routes: Callable[[], list[RouteSpec]],
        secrets: SecretLookup,
        deliverer: Deliverer,
        sink: EventSink,
        presence: Presence,
        delivered: DeliveredLog,
        source: str,
        dashboard_url: str,
        retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._routes = routes
        self._secrets = secrets
        self._deliverer = deliverer
        self._sink = sink
        self._presence = presence
        self._delivered = delivered
        self._source = source
        self._dashboard_url = dashboard_url
        self._retry_delays = retry_delays
        self._now = now
        self._gate = Gate(time.monotonic)
        self._bursts = BurstCollector(self._flush)
        self._specs: dict[str, RouteSpec] = {}
        self.suppressed = 0

    async def handle(self, envelope: Envelope) -> None:
        matching = [r for r in self._routes() if route_matches(r, envelope)]
        await asyncio.gather(*(self._route(spec, envelope) for spec in matching))

    async def _route(self, spec: RouteSpec, envelope: Envelope) -> None:
        if (spec.name, str(envelope.event_id)) in self._delivered:
            return
        if in_quiet_hours(spec, self._now().astimezone()):
            log.info("quiet hours: not notified", route=spec.name, type=envelope.type)
            return
        if envelope.type in OFFLINE_EVENTS and spec.offline_after_s:
            age = (self._now() - envelope.occurred_at).total_seconds()
            if age < spec.offline_after_s:
                raise RetryLater(spec.offline_after_s - age, "offline, waiting to see if it lasts")
            if await self._presence.back_online(envelope):
                return
        if not self._gate.allow(
            f"{spec.name}\x1f{envelope.type}\x1f{envelope.key}", spec.throttle_s
        ):
            self.suppressed += 1
            log.info("throttled", route=spec.name, type=envelope.type, key=envelope.key)
            return
        self._specs[spec.name] = spec
        await self._bursts.submit(f"{spec.name}\x1f{envelope.type}", envelope, spec.burst_s)

    async def _flush(self, group_key: str, envelopes: list[Envelope]) -> None:
        spec = self._specs[group_key.split("\x1f", 1)[0]]
        message = render_summary(envelopes, self._dashboard_url)
        event_ids = [str(e.event_id) for e in envelopes]
        await asyncio.gather(
            *(self._send(spec, name, message, envelopes, event_ids) for name in spec.urls)
        )
        self._delivered.add(spec.name, event_ids)
        fault_point("notify.after_record_before_ack")

    async def _send(
        self,
        spec: RouteSpec,
        secret_name: str,
        message: Message,
        envelopes: list[Envelope],
        event_ids: list[str],
    ) -> None:
        secret = await self._secrets.get(secret_name)
        notification_id = str(derived_event_id("notify", spec.name, secret_name, *event_ids))
        if secret is None:
            await self._record(
                NotificationFailed(
                    notification_id=notification_id,
                    route=spec.name,
                    scheme="unknown",
                    event_ids=tuple(event_ids),
                    title=message.title,
                    attempts=0,
                    reason=f"secret {secret_name!r} does not exist; store the Apprise URL with "
                    f"`hearth secret set {secret_name}`",
                ),
                envelopes,
            )
            return
        url = secret.decode()
        fault_point("notify.before_send")
        outcome = await deliver_with_retries(self._deliverer, url, message, self._retry_delays)
        common = {
            "notification_id": notification_id,
            "route": spec.name,
            "scheme": scheme_of(url),
            "event_ids": tuple(event_ids),
            "title": message.title,
            "attempts": outcome.attempts,
        }
        if outcome.ok:
            fault_point("notify.after_send_before_record")
            await self._record(NotificationSent(**common), envelopes)
        else:
            log.warning(
                "notification failed",
                route=spec.name,
                scheme=common["scheme"],
                attempts=outcome.attempts,
                reason=outcome.reason,
            )
            await self._record(NotificationFailed(**common, reason=outcome.reason), envelopes)

    async def _record(
        self, data: NotificationSent | NotificationFailed, envelopes: list[Envelope]
    ) -> None:
        first = envelopes[0]
        await self._sink.publish(
            new_event(
                data,
                source=self._source,
                actor="notifier",
                correlation_id=first.correlation_id,
                causation_id=str(first.event_id),
                event_id=derived_event_id(data.type_name(), data.notification_id),
            )
        )


class ApplyRoutes(ApplyCommand):
    routes: list[RouteSpec] = []
    default_urls: tuple[str, ...] = Field(default=(), description="secret names; () = none")
    include_success: bool = False
    offline_after_s: int = Field(default=DEFAULT_OFFLINE_AFTER_S, ge=0)


class TestNotification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    route: str | None = None


async def check_routes(routes: list[RouteSpec], secrets: SecretLookup) -> list[str]:
    """Every reason a route cannot work, each naming the route."""
    problems: list[str] = []
    for spec in routes:
        problems.extend(
            f"route {spec.name}: event pattern {p!r} matches no event type"
            for p in unknown_patterns(spec)
        )
        addresses = route_problems(spec)  # an Apprise URL itself: never echoed or looked up
        problems.extend(problem for _, problem in addresses)
        if addresses:
            continue
        for name in spec.urls:
            value = await secrets.get(name)
            if value is None:
                problems.append(f"route {spec.name}: secret {name!r} does not exist")
            elif (reason := check_url(value.decode())) is not None:
                problems.append(f"route {spec.name}: secret {name!r}: {reason}")
    return problems


async def apply_routes(
    request: ApplyRoutes,
    registry: RouteRegistry,
    secrets: SecretLookup,
    sink: EventSink,
    *,
    source: str,
) -> dict[str, Any]:
    desired = list(request.routes)
    if request.default_urls:
        desired = (
            default_routes(
                request.default_urls,
                include_success=request.include_success,
                offline_after_s=request.offline_after_s,
            )
            + desired
        )
    problems = await check_routes(desired, secrets)
    if problems:
        raise CommandRejected("; ".join(problems))
    return await apply_declarations(registry, desired, sink, request, source=source)


async def send_test(
    request: TestNotification,
    registry: RouteRegistry,
    secrets: SecretLookup,
    deliverer: Deliverer,
    *,
    retry_delays: tuple[float, ...] = (),
) -> dict[str, Any]:
    routes = registry.all()
    if request.route is not None:
        routes = [r for r in routes if r.name == request.route]
        if not routes:
            raise CommandRejected(f"no route named {request.route!r}")
    if not routes:
        raise CommandRejected("no routes are declared; add notifications to hearth.yaml")
    message = Message(
        "Hearth test notification", "If you can read this, Hearth can reach you here.", "info"
    )
    results: list[dict[str, Any]] = []
    for spec in routes:
        for name in spec.urls:
            value = await secrets.get(name)
            if value is None:
                results.append(
                    {
                        "route": spec.name,
                        "secret": name,
                        "scheme": "unknown",
                        "ok": False,
                        "reason": "secret does not exist",
                    }
                )
                continue
            url = value.decode()
            outcome = await deliver_with_retries(deliverer, url, message, retry_delays)
            results.append(
                {
                    "route": spec.name,
                    "secret": name,
                    "scheme": scheme_of(url),
                    "ok": outcome.ok,
                    "reason": outcome.reason,
                }
            )
    return {"results": results}
