"""Events of the ``notify`` context: what reached people, and what did not."""

from __future__ import annotations

from typing import ClassVar

from hearth_events.base import EventData, register

__all__ = ["NotificationFailed", "NotificationSent"]


class _NotifyEvent(EventData):
    context: ClassVar[str] = "notify"
    key_field: ClassVar[str] = "route"

    notification_id: str
    route: str
    scheme: str
    event_ids: tuple[str, ...] = ()
    title: str = ""


@register
class NotificationSent(_NotifyEvent):
    attempts: int = 1


@register
class NotificationFailed(_NotifyEvent):
    severity: ClassVar[str] = "warning"
    reason: str
    attempts: int
    permanent: bool = True
