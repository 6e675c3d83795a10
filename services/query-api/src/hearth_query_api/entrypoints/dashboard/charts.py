"""Small inline SVG charts, drawn on the server (no script, no chart library).

A bar per finished deployment, oldest left: its height is how long it took, its colour
how it ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hearth_query_api.entrypoints.dashboard.present import duration, status_label, utc
from hearth_query_api.entrypoints.dashboard.views import tone


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    tone: str
    title: str
    href: str


@dataclass(frozen=True)
class Strip:
    width: int
    height: int
    bars: list[Bar]
    succeeded: int
    finished: int
    median_ms: float | None
    restored: frozenset[str]  # deployments whose rollback put the host back


def bar_strip(rows: list[Any], *, width: int = 240, height: int = 40, slots: int = 30) -> Strip:
    """Bars for ``rows`` (oldest first), scaled to the slowest; at least 3 px tall."""
    rows = rows[-slots:]
    took = [r["duration_ms"] or 0 for r in rows]
    tallest = max(took, default=0) or 1
    step = width / slots
    bars = []
    for i, (row, ms) in enumerate(zip(rows, took, strict=True)):
        h = max(3.0, (height - 2) * ms / tallest)
        label = status_label(row["status"], row["rolled_back"])
        bars.append(
            Bar(
                x=round(i * step + 1, 2),
                y=round(height - h, 2),
                width=round(max(step - 2, 1), 2),
                height=round(h, 2),
                tone=tone(row["status"]),
                title=f"{label} · {duration(ms)} · {utc(row['requested_at'])}",
                href=f"/deployments/{row['id']}",
            )
        )
    ok = [ms for r, ms in zip(rows, took, strict=True) if r["status"] == "succeeded"]
    ok.sort()
    return Strip(
        width=width,
        height=height,
        bars=bars,
        succeeded=len(ok),
        finished=len(rows),
        median_ms=ok[len(ok) // 2] if ok else None,
        restored=frozenset(r["id"] for r in rows if r["rolled_back"]),
    )
