"""Fleet operations as commands: ``hearth.cmd.device.{Backup,Restore,Import}``."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from hearth_device_manager.domain.errors import DeviceError
from hearth_device_manager.operations import Operations, Refused, Snapshots
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


async def refusing(work: Awaitable[T]) -> T:
    """A refused operation or a failing device answers one line, never a traceback."""
    try:
        return await work
    except (Refused, DeviceError) as exc:
        raise CommandRejected(str(exc)) from None
    except TimeoutError:
        raise CommandRejected("the device did not come back in time") from None


class FleetCommands:
    def __init__(self, snapshots: Snapshots, operations: Operations) -> None:
        self.snapshots = snapshots
        self.operations = operations

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
