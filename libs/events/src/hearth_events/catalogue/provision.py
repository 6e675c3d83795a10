"""Events of the ``provision`` context: edge agents onboarding factory-fresh devices."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from hearth_events.base import EventData, register

__all__ = [
    "AgentOffline",
    "AgentOnline",
    "AgentRegistered",
    "DeviceProvisioned",
    "ProvisionClaimed",
    "ProvisionFailed",
    "ProvisionRequested",
    "ProvisionStepCompleted",
]


class _AgentEvent(EventData):
    context: ClassVar[str] = "provision"
    key_field: ClassVar[str] = "agent_id"

    agent_id: str


class _JobEvent(EventData):
    context: ClassVar[str] = "provision"
    key_field: ClassVar[str] = "site"

    job_id: str
    site: str


@register
class AgentRegistered(_AgentEvent):
    site: str
    hostname: str
    version: str


@register
class AgentOnline(_AgentEvent):
    site: str


@register
class AgentOffline(_AgentEvent):
    severity: ClassVar[str] = "warning"
    site: str
    last_seen: datetime | None = None


@register
class ProvisionRequested(_JobEvent):
    device_ap: str | None = None
    wifi_secret: str
    device_name: str | None = None


@register
class ProvisionClaimed(_JobEvent):
    agent_id: str


@register
class ProvisionStepCompleted(_JobEvent):
    agent_id: str
    step: str


@register
class DeviceProvisioned(_JobEvent):
    agent_id: str
    device_id: str
    address: str | None = None


@register
class ProvisionFailed(_JobEvent):
    severity: ClassVar[str] = "failure"
    agent_id: str | None = None
    step: str
    reason: str
