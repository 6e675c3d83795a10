"""Which routes an event takes, the default routes, and checks of route declarations."""

from __future__ import annotations

import fnmatch
from datetime import datetime, time

from hearth_events import Envelope, all_event_classes
from hearth_events.catalogue import RouteSpec

FAILURES = (
    "DeploymentFailed",
    "RollbackCompleted",
    "RollbackFailed",
    "ValidationFailed",
    "DeviceDrifted",
    "DeviceOffline",
    "ProvisionFailed",
    "AgentOffline",
)
SUCCESSES = ("DeploymentSucceeded", "DeviceProvisioned", "FirmwareUpdated")
OFFLINE_EVENTS = ("DeviceOffline", "AgentOffline")
DEFAULT_OFFLINE_AFTER_S = 5 * 60


def default_routes(
    urls: tuple[str, ...],
    *,
    include_success: bool = False,
    offline_after_s: int = DEFAULT_OFFLINE_AFTER_S,
) -> list[RouteSpec]:
    """What a person wants to hear about without configuring anything: things that broke."""
    routes = [
        RouteSpec(name="default", events=FAILURES, urls=urls, offline_after_s=offline_after_s)
    ]
    if include_success:
        routes.append(RouteSpec(name="default-success", events=SUCCESSES, urls=urls))
    return routes


def unknown_patterns(spec: RouteSpec) -> list[str]:
    known = list(all_event_classes())
    return [p for p in spec.events if not fnmatch.filter(known, p)]


def _matches_any(value: str | None, patterns: tuple[str, ...]) -> bool:
    if not patterns:
        return True
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in patterns)


def route_matches(spec: RouteSpec, envelope: Envelope) -> bool:
    if envelope.data.context == "notify":
        return False  # never notify about notifications
    data = envelope.data
    return (
        any(fnmatch.fnmatchcase(envelope.type, p) for p in spec.events)
        and _matches_any(getattr(data, "target", None), spec.targets)
        and _matches_any(getattr(data, "device_id", None), spec.devices)
        and (not spec.severities or data.severity in spec.severities)
    )


def in_quiet_hours(spec: RouteSpec, now: datetime) -> bool:
    if spec.quiet_hours is None:
        return False
    start_text, end_text = spec.quiet_hours.split("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    current = now.time()
    if start <= end:
        return start <= current < end
    return current >= start or current < end  # spans midnight, e.g. 22:00-07:00
