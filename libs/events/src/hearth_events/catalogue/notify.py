"""Events of the ``notify`` context: what reached people, and what did not."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from hearth_events.base import EventData, register

__all__ = [
    "NotificationFailed",
    "NotificationSent",
    "RouteRegistered",
    "RouteRemoved",
    "RouteSpec",
    "RouteUpdated",
]

Severity = Literal["info", "success", "warning", "failure"]


class RouteSpec(BaseModel):
    """Which events reach which people, as declared in ``hearth.yaml``.

    ``urls`` are names of secrets holding Apprise URLs (URLs carry tokens).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    events: tuple[str, ...] = Field(min_length=1, description="type names; * and ? wildcards")
    targets: tuple[str, ...] = Field(default=(), description="target globs; () = any")
    devices: tuple[str, ...] = Field(default=(), description="device globs; () = any")
    severities: tuple[Severity, ...] = Field(default=(), description="() = any")
    urls: tuple[str, ...] = Field(min_length=1, description="secret names of Apprise URLs")
    throttle_s: int = Field(default=300, ge=0, description="same key at most once per window")
    burst_s: float = Field(default=5.0, ge=0, le=50, description="gather a burst into one")
    offline_after_s: int = Field(default=0, ge=0, description="only offline for longer than")
    quiet_hours: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")


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


class _RouteEvent(EventData):
    context: ClassVar[str] = "notify"
    key_field: ClassVar[str] = "route"

    route: str


@register
class RouteRegistered(_RouteEvent):
    spec: RouteSpec


@register
class RouteUpdated(_RouteEvent):
    spec: RouteSpec
    changed_fields: tuple[str, ...] = ()


@register
class RouteRemoved(_RouteEvent):
    pass
