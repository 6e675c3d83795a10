"""The fleet's commands: each is forwarded to the device manager (``hearth.cmd.device.*``)
and its answer returned. The device manager records what it does as events; this API
records nothing of its own.

Who may: discover, apply, import, back up, restore and roll out firmware — operator;
adopt and release — admin (they decide which devices Hearth manages).
"""

from __future__ import annotations

import json
from typing import Any

import nats.errors

from hearth_events import command_subject
from hearth_query_api.entrypoints.api.device_models import (
    AdoptIn,
    DeviceCommandOut,
    DiscoverIn,
    RestoreIn,
    RolloutIn,
)
from hearth_query_api.entrypoints.api.device_queries import resolve_device_id
from hearth_query_api.entrypoints.api.framework import ApiError, Call

#: Seconds to wait for the device manager's answer (a discovery scans whole networks).
TIMEOUT = {"Discover": 120.0}
DEFAULT_TIMEOUT = 30.0
#: Words in a refusal that mean "no such thing": answered 404, the rest 409.
MISSING = ("no device", "not found", "no backup", "unknown device")


class DeviceCommands:
    pool: Any
    nc: Any

    async def _ask(self, call: Call, command: str, body: dict[str, Any]) -> DeviceCommandOut:
        subject = command_subject("device", command)
        request = {**body, "actor": f"token:{call.principal.name}"}  # the events name who
        try:
            reply = await self.nc.request(
                subject, json.dumps(request).encode(), timeout=TIMEOUT.get(command, DEFAULT_TIMEOUT)
            )
        except nats.errors.NoRespondersError:
            raise ApiError(
                503,
                "no responder",
                f"nothing answers {subject}: the device manager is not running, or this "
                "version of it does not know the command",
            ) from None
        except nats.errors.TimeoutError:
            raise ApiError(
                503, "no answer", f"the device manager did not answer {subject} in time"
            ) from None
        answer = json.loads(reply.data)
        if not answer.get("ok"):
            error = str(answer.get("error") or "refused")
            missing = any(word in error.lower() for word in MISSING)
            raise ApiError(404 if missing else 409, "refused", error)
        return DeviceCommandOut(
            command=command, result={k: v for k, v in answer.items() if k != "ok"}
        )

    async def _device_id(self, call: Call) -> str:
        async with self.pool.acquire() as conn:
            return await resolve_device_id(conn, call.path["id"])

    async def discover_devices(self, call: Call) -> DeviceCommandOut:
        body: DiscoverIn = call.body
        return await self._ask(call, "Discover", body.model_dump(exclude_none=True))

    async def adopt_device(self, call: Call) -> DeviceCommandOut:
        body: AdoptIn = call.body
        device_id = await self._device_id(call)
        return await self._ask(
            call, "Adopt", {"device_id": device_id, **body.model_dump(exclude_none=True)}
        )

    async def release_device(self, call: Call) -> DeviceCommandOut:
        return await self._ask(call, "Release", {"device_id": await self._device_id(call)})

    async def apply_device(self, call: Call) -> DeviceCommandOut:
        return await self._ask(call, "Apply", {"device_id": await self._device_id(call)})

    async def import_device(self, call: Call) -> DeviceCommandOut:
        return await self._ask(call, "Import", {"device_id": await self._device_id(call)})

    async def backup_device(self, call: Call) -> DeviceCommandOut:
        return await self._ask(call, "Backup", {"device_id": await self._device_id(call)})

    async def restore_device(self, call: Call) -> DeviceCommandOut:
        body: RestoreIn = call.body
        device_id = await self._device_id(call)
        return await self._ask(
            call, "Restore", {"device_id": device_id, "backup_id": body.backup_id}
        )

    async def start_rollout(self, call: Call) -> DeviceCommandOut:
        body: RolloutIn = call.body
        request = body.model_dump(exclude_none=True)
        if body.device_ids is None and body.group is None:
            async with self.pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT device_id FROM devices WHERE adopted AND firmware_available "
                    "IS NOT NULL ORDER BY seq"
                )
            if not rows:
                raise ApiError(409, "nothing to update", "no adopted device has an update")
            request["device_ids"] = [r["device_id"] for r in rows]
        return await self._ask(call, "FirmwareRollout", request)
