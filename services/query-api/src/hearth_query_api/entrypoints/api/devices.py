"""``/api/v1/devices`` and ``/api/v1/rollouts``: the Shelly fleet, one device with its live
status and backups, its history, counts by state, the inventory as files, and firmware
rollouts with each device's progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from hearth_query_api.adapters.live_status import LiveStatus
from hearth_query_api.adapters.samples import device_samples
from hearth_query_api.adapters.select import Select
from hearth_query_api.domain.fleet import EXPORTS, device_status
from hearth_query_api.domain.samples import BUCKET_S, KEEP_S
from hearth_query_api.entrypoints.api.device_models import (
    DeviceBackupOut,
    DeviceCountsOut,
    DeviceDetailOut,
    DeviceOut,
    RolloutDetailOut,
    RolloutDeviceOut,
    RolloutOut,
    SampleOut,
    SamplesOut,
)
from hearth_query_api.entrypoints.api.device_queries import (
    ROLLOUT_DEVICES_SQL,
    DeviceQuery,
    ExportQuery,
    RolloutQuery,
    device_counts,
    device_select,
    resolve_device_id,
    rollout_progress,
)
from hearth_query_api.entrypoints.api.events import event_out
from hearth_query_api.entrypoints.api.framework import ApiError, Call
from hearth_query_api.entrypoints.api.models import EventOut, Page, json_value
from hearth_query_api.entrypoints.api.queries import PageQuery

SAMPLE_FIELDS = ("power_w", "power_max_w", "rssi_dbm", "rssi_min_dbm", "online")
#: The most devices one export holds (the fleet is sized for 5,000).
EXPORT_LIMIT = 100_000


def device_out(row: Any) -> DeviceOut:
    values = {k: row[k] for k in DeviceOut.model_fields if k not in ("status", "differences")}
    return DeviceOut(
        **values,
        status=device_status(row["online"]),
        differences=json_value(row["differences"]),
    )


def rollout_out(row: Any, progress: dict[str, int]) -> RolloutOut:
    values = {k: row[k] for k in RolloutOut.model_fields if k not in ("versions", "progress")}
    return RolloutOut(**values, versions=json_value(row["versions"]), progress=progress)


class DeviceReads:
    pool: Any
    live: LiveStatus | None

    async def list_devices(self, call: Call) -> Page[DeviceOut]:
        q: DeviceQuery = call.query
        async with self.pool.acquire() as conn:
            rows, cursor = await device_select(q).page(conn, cursor=q.cursor, limit=q.limit)
        return Page[DeviceOut](items=[device_out(r) for r in rows], next_cursor=cursor)

    async def count_devices(self, call: Call) -> DeviceCountsOut:
        async with self.pool.acquire() as conn:
            return DeviceCountsOut.model_validate(await device_counts(conn))

    async def get_device(self, call: Call) -> DeviceDetailOut:
        async with self.pool.acquire() as conn:
            device_id = await resolve_device_id(conn, call.path["id"])
            row = await conn.fetchrow("SELECT * FROM devices WHERE device_id = $1", device_id)
            backups = await conn.fetch(
                "SELECT * FROM device_backups WHERE device_id = $1 ORDER BY seq DESC LIMIT 50",
                device_id,
            )
        live = await self.live.get(device_id) if self.live is not None else None
        return DeviceDetailOut(
            **device_out(row).model_dump(),
            desired=json_value(row["desired"]),
            backups=[
                DeviceBackupOut.model_validate({k: b[k] for k in DeviceBackupOut.model_fields})
                for b in backups
            ],
            live=live,
        )

    async def device_history(self, call: Call) -> Page[EventOut]:
        q: PageQuery = call.query
        async with self.pool.acquire() as conn:
            device_id = await resolve_device_id(conn, call.path["id"])
            select = Select("events").equal(context="device", key=device_id)
            rows, cursor = await select.page(conn, cursor=q.cursor, limit=q.limit)
        return Page[EventOut](items=[event_out(r) for r in rows], next_cursor=cursor)

    async def device_samples(self, call: Call) -> SamplesOut:
        """Power and Wi-Fi signal over the last day (``adapters.samples``)."""
        since = datetime.now(UTC) - timedelta(seconds=KEEP_S)
        async with self.pool.acquire() as conn:
            device_id = await resolve_device_id(conn, call.path["id"])
            rows = await device_samples(conn, device_id, since)
        return SamplesOut(
            device_id=device_id,
            bucket_s=BUCKET_S,
            points=[SampleOut(at=r["bucket"], **{k: r[k] for k in SAMPLE_FIELDS}) for r in rows],
        )

    async def export_devices(self, call: Call) -> web.Response:
        q: ExportQuery = call.query
        sql, values = device_select(q).sql(below=None, limit=EXPORT_LIMIT)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(sql, *values)
        media_type, render = EXPORTS[q.format]
        devices = [dict(r) for r in reversed(rows)]  # oldest first: a stable file
        extension = {"hosts": "hosts", "dnsmasq": "conf", "dhcpd": "conf"}.get(q.format, q.format)
        return web.Response(
            text=render(devices),
            content_type=media_type,
            headers={
                "Content-Disposition": f'attachment; filename="shelly-{q.format}.{extension}"'
            },
        )

    async def list_rollouts(self, call: Call) -> Page[RolloutOut]:
        q: RolloutQuery = call.query
        async with self.pool.acquire() as conn:
            rows, cursor = await (
                Select("rollouts").equal(status=q.status).page(conn, cursor=q.cursor, limit=q.limit)
            )
            progress = await rollout_progress(conn, [r["rollout_id"] for r in rows])
        return Page[RolloutOut](
            items=[rollout_out(r, progress[r["rollout_id"]]) for r in rows], next_cursor=cursor
        )

    async def get_rollout(self, call: Call) -> RolloutDetailOut:
        rollout_id = call.path["id"]
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM rollouts WHERE rollout_id = $1", rollout_id)
            if row is None:
                raise ApiError(404, "not found", f"no rollout {rollout_id!r}")
            devices = await conn.fetch(ROLLOUT_DEVICES_SQL, rollout_id)
            progress = await rollout_progress(conn, [rollout_id])
        return RolloutDetailOut(
            **rollout_out(row, progress[rollout_id]).model_dump(),
            devices=[
                RolloutDeviceOut.model_validate({k: d[k] for k in RolloutDeviceOut.model_fields})
                for d in devices
            ],
        )
