"""A device's online history as one small SVG bar, drawn on the server: green while it was
online, red while offline, grey before anything was known; the last day, oldest left."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hearth_query_api.entrypoints.dashboard.present import utc

PRESENCE_SQL = """
(SELECT occurred_at, type FROM events
  WHERE context = 'device' AND key = $1 AND type IN ('DeviceOnline', 'DeviceOffline')
    AND occurred_at < $2
  ORDER BY seq DESC LIMIT 1)
UNION ALL
(SELECT occurred_at, type FROM events
  WHERE context = 'device' AND key = $1 AND type IN ('DeviceOnline', 'DeviceOffline')
    AND occurred_at >= $2
  ORDER BY seq)
"""


async def presence(conn: Any, device_id: str, since: datetime) -> list[tuple[datetime, bool]]:
    """Each change of the device's presence from ``since`` on, after the one in force then."""
    rows = await conn.fetch(PRESENCE_SQL, device_id, since)
    return [(r["occurred_at"], r["type"] == "DeviceOnline") for r in rows]


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    tone: str
    title: str


@dataclass(frozen=True)
class OnlineStrip:
    width: int
    height: int
    segments: list[Segment]
    online_share: float | None  # of the time anything was known


def online_strip(
    changes: list[tuple[datetime, bool]],
    start: datetime,
    end: datetime,
    *,
    width: int = 240,
    height: int = 16,
) -> OnlineStrip:
    span = (end - start).total_seconds() or 1.0
    segments, known, online = [], 0.0, 0.0
    bounds: list[tuple[datetime, bool | None]] = [*changes, (end, None)]
    for (at, state), (until, _) in itertools.pairwise(bounds):
        begin, finish = max(at, start), min(until, end)
        seconds = (finish - begin).total_seconds()
        if seconds <= 0:
            continue
        known += seconds
        online += seconds if state else 0.0
        segments.append(
            Segment(
                x=round((begin - start).total_seconds() / span * width, 2),
                width=round(max(seconds / span * width, 1.0), 2),
                tone="ok" if state else "bad",
                title=f"{'online' if state else 'offline'} from {utc(begin)}",
            )
        )
    return OnlineStrip(width, height, segments, (online / known) if known else None)
