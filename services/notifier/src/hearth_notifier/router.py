"""Route each event to the people who want it: match, wait out flaps, throttle, gather
bursts, deliver, and record what happened as NotificationSent / NotificationFailed.

A handler returns only when its notifications are settled (sent, or failed for good), so
the consumer acks the event only then. Deliveries already recorded are not repeated when an
event comes again after a crash.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from hearth_events import Envelope, derived_event_id, new_event
from hearth_events.catalogue import NotificationFailed, NotificationSent, RouteSpec
from hearth_notifier.bursts import BurstCollector, Gate
from hearth_notifier.delivery import Deliverer, deliver_with_retries, scheme_of
from hearth_notifier.messages import Message, render_summary
from hearth_notifier.routes import OFFLINE_EVENTS, in_quiet_hours, route_matches
from hearth_servicekit import get_logger
from hearth_servicekit.consumer import RetryLater
from hearth_servicekit.faults import fault_point
from hearth_servicekit.publishing import EventSink

log = get_logger("hearth.notifier")


class SecretLookup(Protocol):
    async def get(self, name: str) -> bytes | None: ...


class Presence(Protocol):
    async def back_online(self, envelope: Envelope) -> bool:
        """True if the device or agent this offline event is about is online again."""


class DeliveredLog:
    """(route, event id) pairs already notified, from NotificationSent events."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def apply(self, envelope: Envelope) -> None:
        if isinstance(envelope.data, NotificationSent):
            for event_id in envelope.data.event_ids:
                self._seen.add((envelope.data.route, event_id))

    def add(self, route: str, event_ids: list[str]) -> None:
        self._seen.update((route, event_id) for event_id in event_ids)

    def __contains__(self, item: tuple[str, str]) -> bool:
        return item in self._seen


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
