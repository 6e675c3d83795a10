"""What the notifier knows from the stream: the declared routes and what was notified."""

from __future__ import annotations

from hearth_events import Envelope
from hearth_events.catalogue import (
    NotificationSent,
    RouteRegistered,
    RouteRemoved,
    RouteSpec,
    RouteUpdated,
)
from hearth_servicekit.declarations import DeclarationEvents, Declarations

ROUTE_EVENTS = DeclarationEvents(RouteRegistered, RouteUpdated, RouteRemoved, "route")


class RouteRegistry(Declarations[RouteSpec]):
    def __init__(self) -> None:
        super().__init__(ROUTE_EVENTS)


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
