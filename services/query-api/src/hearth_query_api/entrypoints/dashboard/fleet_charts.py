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


@dataclass(frozen=True)
class LineChart:
    """A small line over the last day: the SVG path (a gap where no bucket was stored),
    the filled area under it, the scale's ends and the latest value."""

    width: int
    height: int
    line: str
    area: str
    low: float
    high: float
    latest: float | None


def line_chart(
    points: list[tuple[datetime, float | None]],
    start: datetime,
    end: datetime,
    *,
    bucket_s: float,
    width: int = 480,
    height: int = 56,
    floor: float | None = None,
) -> LineChart | None:
    """None when there is nothing to draw. ``floor`` pins the scale's low end (0 W)."""
    known = [(at, v) for at, v in points if v is not None and start <= at <= end]
    if not known:
        return None
    values = [v for _, v in known]
    low = min(values) if floor is None else min(floor, *values)
    high = max(values)
    if high - low < 1e-9:
        high = low + 1.0
    span = (end - start).total_seconds() or 1.0

    def xy(at: datetime, value: float) -> str:
        x = (at - start).total_seconds() / span * width
        y = height - (value - low) / (high - low) * (height - 2) - 1
        return f"{x:.1f} {y:.1f}"

    runs: list[list[tuple[datetime, float]]] = []
    for at, value in known:
        if runs and (at - runs[-1][-1][0]).total_seconds() <= bucket_s * 1.5:
            runs[-1].append((at, value))
        else:
            runs.append([(at, value)])
    line = " ".join("M" + " L".join(xy(at, v) for at, v in run) for run in runs)
    area = " ".join(
        f"M{xy(run[0][0], low)} L"
        + " L".join(xy(at, v) for at, v in run)
        + f" L{xy(run[-1][0], low)} Z"
        for run in runs
    )
    return LineChart(width, height, line, area, round(low, 1), round(high, 1), values[-1])


def signal_quality(rssi_dbm: float | None) -> str | None:
    """Plain words for a Wi-Fi signal, as routers put it."""
    if rssi_dbm is None:
        return None
    if rssi_dbm >= -60:
        return "good"
    if rssi_dbm >= -70:
        return "fair"
    return "weak"
