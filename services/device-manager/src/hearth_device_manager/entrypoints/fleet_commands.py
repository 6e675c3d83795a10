"""Fleet operations as commands: ``hearth.cmd.device.{Backup,Restore,Import,
FirmwareRollout,RolloutStatus}``."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hearth_device_manager.domain.errors import DeviceError
from hearth_device_manager.domain.rollout import describe
from hearth_device_manager.workflows.fleet import Operations, Refused, Snapshots
from hearth_device_manager.workflows.rollout import RolloutRunner
from hearth_events import command_subject
from hearth_servicekit.commands import CommandRejected, serve_command

T = TypeVar("T")


class Backup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str
    actor: str = "hearth"


class Restore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str
    backup_id: str
    actor: str = "hearth"


class Import(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str
    actor: str = "hearth"


class FirmwareRollout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_ids: list[str] | None = Field(default=None, min_length=1)
    group: str | None = Field(default=None, description="devices of this hearth.yaml group")
    channel: Literal["stable", "beta"] | None = Field(
        default=None, description="default: each device's group channel, else stable"
    )
    wave_size: int = Field(default=5, ge=1)
    pause_s: float = Field(default=0.0, ge=0)
    canaries_per_model: int = Field(default=1, ge=0)
    pin: dict[str, str] = Field(default_factory=dict, description="model → version")
    actor: str = "hearth"

    @model_validator(mode="after")
    def _one_selection(self) -> FirmwareRollout:
        if (self.device_ids is None) == (self.group is None):
            raise ValueError("give device_ids or group (one of them)")
        return self


class RolloutStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rollout_id: str


async def refusing(work: Awaitable[T]) -> T:
    """A refused operation or a failing device answers one line, never a traceback."""
    try:
        return await work
    except (Refused, DeviceError) as exc:
        raise CommandRejected(str(exc)) from None
    except TimeoutError:
        raise CommandRejected("the device did not come back in time") from None


class FleetCommands:
    def __init__(
        self, snapshots: Snapshots, operations: Operations, rollouts: RolloutRunner
    ) -> None:
        self.snapshots = snapshots
        self.operations = operations
        self.rollouts = rollouts

    async def firmware_rollout(self, request: FirmwareRollout) -> dict[str, Any]:
        fleet = self.operations.fleet
        if request.group is not None:
            device_ids = await refusing(fleet.group(request.group))
        else:
            device_ids = request.device_ids or []
        rollout = await refusing(
            self.rollouts.start(
                device_ids,
                request.channel,
                wave_size=request.wave_size,
                pause_s=request.pause_s,
                canaries_per_model=request.canaries_per_model,
                pins=request.pin,
                actor=request.actor,
            )
        )
        return describe(rollout)

    async def rollout_status(self, request: RolloutStatus) -> dict[str, Any]:
        try:
            rollout = await self.rollouts.load(request.rollout_id)
        except ValueError:
            rollout = None
        if rollout is None:
            raise CommandRejected(f"no rollout {request.rollout_id}")
        progress = self.rollouts.ota.progress
        found = describe(rollout)
        found["progress"] = {d: progress[d] for w in rollout.waves for d in w if d in progress}
        return found

    async def backup(self, request: Backup) -> dict[str, Any]:
        backup = await refusing(self.snapshots.take(request.device_id, "manual", request.actor))
        return {"backup_id": backup.backup_id, "firmware": backup.firmware}

    async def restore(self, request: Restore) -> dict[str, Any]:
        return await refusing(
            self.operations.restore(request.device_id, request.backup_id, request.actor)
        )

    async def import_config(self, request: Import) -> dict[str, Any]:
        return await refusing(self.operations.import_config(request.device_id, request.actor))

    async def serve(self, nc: Any, queue: str) -> None:
        subject = command_subject
        await serve_command(nc, subject("device", "Backup"), Backup, self.backup, queue=queue)
        await serve_command(nc, subject("device", "Restore"), Restore, self.restore, queue=queue)
        await serve_command(
            nc, subject("device", "Import"), Import, self.import_config, queue=queue
        )
        await serve_command(
            nc,
            subject("device", "FirmwareRollout"),
            FirmwareRollout,
            self.firmware_rollout,
            queue=queue,
        )
        await serve_command(
            nc, subject("device", "RolloutStatus"), RolloutStatus, self.rollout_status, queue=queue
        )
