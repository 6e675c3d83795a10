"""``/api/v1/targets`` and ``/api/v1/backups``: the targets and their backups."""

from __future__ import annotations

from typing import Any

from hearth_query_api.domain.targets import target_status
from hearth_query_api.entrypoints.api.framework import ApiError, Call
from hearth_query_api.entrypoints.api.models import BackupOut, ItemsOut, TargetOut
from hearth_query_api.entrypoints.api.queries import TargetFilter
from hearth_query_api.entrypoints.api.rollbacks import list_backups


class TargetReads:
    pool: Any

    async def list_targets(self, call: Call) -> ItemsOut[TargetOut]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM targets ORDER BY name")
        return ItemsOut[TargetOut](
            items=[
                TargetOut.model_validate(
                    {
                        **{k: row[k] for k in TargetOut.model_fields if k != "status"},
                        "status": target_status(row),
                    }
                )
                for row in rows
            ]
        )

    async def get_target(self, call: Call) -> TargetOut:
        for target in (await self.list_targets(call)).items:
            if target.name == call.path["name"]:
                return target
        raise ApiError(404, "not found", f"no target named {call.path['name']!r}")

    async def list_backups(self, call: Call) -> ItemsOut[BackupOut]:
        q: TargetFilter = call.query
        async with self.pool.acquire() as conn:
            rows = await list_backups(conn, q.target, q.limit)
        return ItemsOut[BackupOut](items=[BackupOut.model_validate(dict(r)) for r in rows])
