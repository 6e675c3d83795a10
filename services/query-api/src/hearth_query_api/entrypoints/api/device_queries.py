"""The fleet's filters and the SQL behind its read endpoints, kept apart from HTTP."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hearth_query_api.adapters.select import Select
from hearth_query_api.entrypoints.api.framework import ApiError
from hearth_query_api.entrypoints.api.queries import PageQuery, Text

ONLINE = {"online": True, "offline": False}


class DeviceFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Text | None = Field(default=None, description="e.g. SNSW-001P16EU")
    group: Text | None = None
    site: Text | None = None
    status: Literal["online", "offline", "unknown"] | None = None
    drift: bool | None = Field(default=None, description="true: only drifted devices")
    update: bool | None = Field(default=None, description="true: a firmware update is available")
    adopted: bool | None = None
    q: Text | None = Field(
        default=None, max_length=100, description="part of the name, id, MAC or address"
    )


class DeviceQuery(PageQuery, DeviceFilter):
    pass


class ExportQuery(DeviceFilter):
    format: Literal["json", "csv", "hosts", "dnsmasq", "dhcpd", "kea"] = "json"


class RolloutQuery(PageQuery):
    status: Literal["running", "completed", "halted"] | None = None


def device_select(f: DeviceFilter, columns: str = "*") -> Select:
    """Every filter of ``f`` that was given, over the devices table."""
    select = (
        Select("devices", columns)
        .equal(model=f.model, site=f.site, drifted=f.drift, adopted=f.adopted)
        .where("? = ANY(groups)", f.group)
        .where("(firmware_available IS NOT NULL) = ?", f.update)
    )
    if f.status == "unknown":
        select = select.where("(online IS NULL) = ?", True)
    elif f.status is not None:
        select = select.where("online = ?", ONLINE[f.status])
    if f.q:
        pattern = "%" + re.sub(r"([%_\\])", r"\\\1", f.q) + "%"
        select = select.where(
            "(name ILIKE ? OR device_id ILIKE ? OR mac ILIKE ? OR address ILIKE ?)", pattern
        )
    return select


COUNTS_SQL = """
SELECT count(*) AS total,
       count(*) FILTER (WHERE adopted) AS adopted,
       count(*) FILTER (WHERE online) AS online,
       count(*) FILTER (WHERE NOT online) AS offline,
       count(*) FILTER (WHERE online IS NULL) AS unknown,
       count(*) FILTER (WHERE drifted) AS drifted,
       count(*) FILTER (WHERE firmware_available IS NOT NULL) AS update_available,
       count(*) FILTER (WHERE firmware_updating IS NOT NULL) AS updating
FROM devices
"""


async def device_counts(conn: Any) -> dict[str, Any]:
    counts = dict(await conn.fetchrow(COUNTS_SQL))
    for column, key in (("model", "by_model"), ("site", "by_site")):
        rows = await conn.fetch(
            f"SELECT {column} AS k, count(*) AS n FROM devices "  # noqa: S608 (no input in it)
            f"WHERE {column} IS NOT NULL GROUP BY {column} ORDER BY {column}"
        )
        counts[key] = {r["k"]: r["n"] for r in rows}
    return counts


async def resolve_device_id(conn: Any, given: str) -> str:
    """The device ``given`` names: its id, its (unique) name, or its MAC; else 404."""
    if await conn.fetchval("SELECT 1 FROM devices WHERE device_id = $1", given):
        return given
    mac = re.sub(r"[^0-9a-fA-F]", "", given).upper()
    rows = await conn.fetch(
        "SELECT device_id FROM devices WHERE name = $1 OR (length($2) = 12 AND upper("
        "regexp_replace(coalesce(mac, ''), '[^0-9a-fA-F]', '', 'g')) = $2) LIMIT 3",
        given,
        mac,
    )
    if len(rows) == 1:
        found: str = rows[0]["device_id"]
        return found
    if rows:
        ids = ", ".join(r["device_id"] for r in rows)
        raise ApiError(409, "ambiguous", f"{given!r} names several devices ({ids}): use an id")
    raise ApiError(404, "not found", f"no device {given!r} (give its id, name or MAC)")


ROLLOUT_DEVICES_SQL = """
SELECT r.*, d.name, d.model FROM rollout_devices r LEFT JOIN devices d USING (device_id)
 WHERE r.rollout_id = $1 ORDER BY r.position
"""
PROGRESS_SQL = """
SELECT rollout_id, status, count(*) AS n FROM rollout_devices
 WHERE rollout_id = ANY($1::text[]) GROUP BY rollout_id, status
"""


async def rollout_progress(conn: Any, rollout_ids: list[str]) -> dict[str, dict[str, int]]:
    progress: dict[str, dict[str, int]] = {r: {} for r in rollout_ids}
    for row in await conn.fetch(PROGRESS_SQL, rollout_ids):
        progress[row["rollout_id"]][row["status"]] = row["n"]
    return progress
