"""Events of the ``device`` context: Shelly devices, their status, config and firmware."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hearth_events.base import EventData, register

__all__ = [
    "DesiredConfigChanged",
    "DesiredConfigRemoved",
    "DeviceAdopted",
    "DeviceBackupTaken",
    "DeviceConfigApplied",
    "DeviceConfigApplyFailed",
    "DeviceConfigImported",
    "DeviceConfigRestored",
    "DeviceConfigSource",
    "DeviceDiscovered",
    "DeviceDrifted",
    "DeviceOffline",
    "DeviceOnline",
    "DeviceReleased",
    "DeviceSpec",
    "DriftResolved",
    "FieldDiff",
    "FirmwareRolloutCompleted",
    "FirmwareRolloutHalted",
    "FirmwareRolloutStarted",
    "FirmwareRolloutWaveStarted",
    "FirmwareUpdateAvailable",
    "FirmwareUpdateFailed",
    "FirmwareUpdateStarted",
    "FirmwareUpdated",
]


class FieldDiff(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    desired: Any = None
    actual: Any = None
    source: str | None = Field(
        default=None,
        description="the desired-config file the desired value comes from "
        "(profile, group or the device's own file), e.g. groups/kitchen.toml",
    )


class DeviceSpec(BaseModel):
    """A device declared under ``devices:`` in hearth.yaml: adopted when discovered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    mac: str | None = Field(default=None, description="the device's MAC; or give device_id")
    device_id: str | None = Field(default=None, description="e.g. shellyplus1pm-a8032ab12345")
    host: str | None = Field(
        default=None, description="address (host or host:port); else found by discovery"
    )
    password_secret: str | None = Field(
        default=None, description="secret (scope device-manager) holding the admin password"
    )
    groups: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _identified(self) -> DeviceSpec:
        if not (self.mac or self.device_id):
            raise ValueError(f"device {self.name}: give its mac or its device_id")
        return self


class DeviceConfigSource(BaseModel):
    """Where the desired device config lives (``device_config:`` in hearth.yaml): a folder
    of a declared repository holding ``devices/``, ``profiles/`` and ``groups/``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repo: str = Field(min_length=1, description="a repository declared under repositories:")
    path: str = Field(default="", description="folder in the repository; '' = its root")
    branch: str = Field(default="main", min_length=1)

    @model_validator(mode="after")
    def _inside(self) -> DeviceConfigSource:
        parts = [p for p in self.path.replace("\\", "/").split("/") if p not in ("", ".")]
        if self.path.startswith("/") or ".." in parts:
            raise ValueError(f"device_config path {self.path!r} must be a folder inside the repo")
        return self

    @property
    def folder(self) -> str:
        """The path without leading/trailing slashes (``''`` for the root)."""
        return "/".join(p for p in self.path.split("/") if p not in ("", "."))


class _DeviceEvent(EventData):
    context: ClassVar[str] = "device"
    key_field: ClassVar[str] = "device_id"

    device_id: str


@register
class DeviceDiscovered(_DeviceEvent):
    model: str
    generation: int
    mac: str
    address: str
    name: str | None = None
    firmware: str | None = None


@register
class DeviceAdopted(_DeviceEvent):
    name: str
    site: str | None = None


@register
class DeviceReleased(_DeviceEvent):
    """Hearth no longer manages the device: hearth.yaml's ``devices:`` and the
    desired-config repository stopped naming it, or an admin released it. Nothing is
    changed on the device; it stays known (discovered) and can be adopted again."""

    name: str | None = None
    reason: Literal["declaration", "repository", "operator"]
    detail: str = ""


@register
class DeviceOnline(_DeviceEvent):
    address: str


@register
class DeviceOffline(_DeviceEvent):
    severity: ClassVar[str] = "warning"
    last_seen: datetime | None = None
    site: str | None = None


@register
class DesiredConfigChanged(_DeviceEvent):
    repo: str
    commit: str
    config: dict[str, Any]
    groups: tuple[str, ...] | None = Field(
        default=None,
        description="the device's groups in Git (None: an event from before they were carried)",
    )
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="where each desired value comes from: field path -> file",
    )


@register
class DesiredConfigRemoved(_DeviceEvent):
    """Hearth no longer has a desired config for a device it still manages: its file left
    the desired-config repository (or ``device_config:`` left hearth.yaml) while ``devices:``
    still declares it. Its drift goes with it (not resolved: nothing converged); status and
    firmware go on. A file that comes back is a new ``DesiredConfigChanged``."""

    repo: str
    commit: str | None = Field(
        description="the commit that no longer names it (None: no repository is declared)"
    )
    detail: str = Field(
        default="",
        description="what changed, e.g. devices/kitchen.toml is no longer in "
        "alice/home-devices@main",
    )


@register
class DeviceDrifted(_DeviceEvent):
    severity: ClassVar[str] = "warning"
    differences: tuple[FieldDiff, ...]


@register
class DriftResolved(_DeviceEvent):
    how: Literal["applied", "imported", "changed_back"]


@register
class DeviceConfigApplied(_DeviceEvent):
    commit: str | None = None
    fields: tuple[str, ...] = ()


@register
class DeviceConfigApplyFailed(_DeviceEvent):
    severity: ClassVar[str] = "failure"
    reason: str


@register
class DeviceConfigImported(_DeviceEvent):
    config: dict[str, Any]


@register
class FirmwareUpdateAvailable(_DeviceEvent):
    current: str
    available: str
    channel: Literal["stable", "beta"] = "stable"


@register
class FirmwareUpdateStarted(_DeviceEvent):
    from_version: str
    to_version: str


@register
class FirmwareUpdated(_DeviceEvent):
    version: str


@register
class FirmwareUpdateFailed(_DeviceEvent):
    """The device refused the update, reported ``ota_error``, or came back on the old
    version (or not at all) within the rollout's verification window."""

    severity: ClassVar[str] = "failure"
    from_version: str
    to_version: str
    reason: str


@register
class DeviceBackupTaken(_DeviceEvent):
    """A full config snapshot of the device, stored by the device manager (not in the
    event: the event names it). Secrets a device reveals are never part of a snapshot."""

    backup_id: str
    reason: Literal["manual", "before_apply", "before_firmware", "before_restore"] = "manual"
    cfg_rev: int | None = None
    firmware: str | None = None


@register
class DeviceConfigRestored(_DeviceEvent):
    """A backup was written back to a device: its own, or another device's of the same
    model (a replacement)."""

    backup_id: str
    from_device_id: str
    fields: tuple[str, ...] = ()


class _RolloutEvent(EventData):
    context: ClassVar[str] = "device"
    key_field: ClassVar[str] = "rollout_id"

    rollout_id: str


@register
class FirmwareRolloutStarted(_RolloutEvent):
    """A staged firmware rollout: canaries first, then waves of ``wave_size`` with a
    pause between them; halts at the first failure."""

    channel: Literal["stable", "beta"] = "stable"
    waves: tuple[tuple[str, ...], ...]
    pause_s: float = 0.0
    versions: dict[str, str] = Field(
        default_factory=dict, description="model → pinned version, where one is pinned"
    )
    channels: dict[str, str] = Field(
        default_factory=dict,
        description="device → channel, where its group's channel differs from ``channel``",
    )


@register
class FirmwareRolloutWaveStarted(_RolloutEvent):
    wave: int
    device_ids: tuple[str, ...]


@register
class FirmwareRolloutCompleted(_RolloutEvent):
    updated: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


@register
class FirmwareRolloutHalted(_RolloutEvent):
    severity: ClassVar[str] = "failure"
    wave: int
    device_id: str
    reason: str
    updated: tuple[str, ...] = ()
