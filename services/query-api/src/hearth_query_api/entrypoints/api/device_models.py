"""What the fleet's endpoints answer and take: devices, their backups, firmware rollouts,
and the commands forwarded to the device manager."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hearth_query_api.entrypoints.api.models import Out

DeviceStatus = Literal["online", "offline", "unknown"]
NAME = r"^[^\x00]+$"


class DeviceOut(Out):
    device_id: str
    name: str | None = Field(description="the adopted name, else the one it announced")
    mac: str | None
    model: str | None
    gen: int | None
    address: str | None
    firmware: str | None
    site: str | None
    groups: list[str] = Field(description="from the desired config in Git, once it names them")
    adopted: bool
    status: DeviceStatus = Field(description="unknown: never reported online or offline")
    online_changed_at: datetime | None
    last_seen: datetime | None
    drifted: bool
    differences: list[dict[str, Any]] = Field(
        description="while drifted: each differing field (path, desired, actual, and where "
        "the desired value comes from when the device manager says)"
    )
    drifted_at: datetime | None
    drift_resolved_how: str | None
    desired_repo: str | None
    desired_commit: str | None
    last_applied_at: datetime | None
    last_applied_commit: str | None
    last_apply_error: str | None = Field(description="the last apply's error, until one works")
    last_imported_at: datetime | None
    last_restored_at: datetime | None
    last_restored_backup: str | None
    firmware_available: str | None = Field(description="a newer version the device offers")
    firmware_channel: str | None
    firmware_updating: str | None = Field(description="the version an update is going to")
    firmware_error: str | None = Field(description="why the last update failed")
    discovered_at: datetime | None
    updated_at: datetime


class DeviceBackupOut(Out):
    backup_id: str
    device_id: str
    reason: str
    cfg_rev: int | None
    firmware: str | None
    taken_at: datetime


class DeviceDetailOut(DeviceOut):
    desired: dict[str, Any] | None = Field(description="the desired config Git last gave")
    backups: list[DeviceBackupOut] = Field(description="newest first")
    live: dict[str, Any] | None = Field(
        description="the live status from the device manager (hearth_device_status), "
        "None when it has none"
    )


class DeviceCountsOut(Out):
    total: int
    adopted: int
    online: int
    offline: int
    unknown: int
    drifted: int
    update_available: int
    updating: int
    by_model: dict[str, int]
    by_site: dict[str, int]


class RolloutDeviceOut(Out):
    device_id: str
    name: str | None
    model: str | None
    wave: int = Field(description="0: the canaries")
    status: Literal["pending", "updating", "updated", "failed", "skipped"]
    from_version: str | None
    to_version: str | None
    reason: str | None
    at: datetime | None


class RolloutOut(Out):
    rollout_id: str
    status: Literal["running", "completed", "halted"]
    channel: str
    waves: int
    current_wave: int | None
    pause_s: float
    versions: dict[str, str]
    started_at: datetime
    finished_at: datetime | None
    halted_device: str | None
    reason: str | None
    actor: str
    progress: dict[str, int] = Field(description="devices by status")


class RolloutDetailOut(RolloutOut):
    devices: list[RolloutDeviceOut] = Field(description="wave by wave, in rollout order")


class DiscoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cidrs: list[str] = Field(min_length=1, description="e.g. 192.168.1.0/24")
    ports: list[int] | None = Field(default=None, description="default: the device manager's")


class AdoptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, pattern=NAME)
    password_secret: str | None = Field(
        default=None, pattern=NAME, description="the secret (scope device-manager), not a password"
    )


class DeviceActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backup_id: str = Field(
        pattern=NAME, description="a backup of this device or of one of its model"
    )


class RolloutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_ids: list[str] | None = Field(
        default=None, description="default: every adopted device with an update available"
    )
    group: str | None = Field(default=None, pattern=NAME)
    channel: Literal["stable", "beta"] | None = None
    wave_size: int | None = Field(default=None, ge=1)
    pause_s: float | None = Field(default=None, ge=0)
    canaries_per_model: int | None = Field(default=None, ge=0)
    pin: dict[str, str] | None = Field(default=None, description="model → version")


class DeviceCommandOut(Out):
    command: str = Field(description="the device manager's command that was asked")
    result: dict[str, Any] = Field(description="the device manager's answer")


class SampleOut(Out):
    at: datetime = Field(description="the start of the bucket")
    power_w: float | None = Field(description="average watts, summed over its meters")
    power_max_w: float | None = Field(description="the highest watts it reported")
    rssi_dbm: float | None = Field(description="average Wi-Fi signal while online")
    rssi_min_dbm: int | None = Field(description="the weakest signal it reported")
    online: float = Field(description="the share of the bucket it was online (0 to 1)")


class SamplesOut(Out):
    device_id: str
    bucket_s: int = Field(description="each point covers this many seconds")
    points: list[SampleOut] = Field(description="oldest first; buckets with no status are missing")
