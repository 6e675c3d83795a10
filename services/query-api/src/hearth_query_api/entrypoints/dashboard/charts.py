"""Small inline SVG charts, drawn on the server (no script, no chart library).

A bar per finished deployment, oldest left: its height is how long it took, its colour
how it ended.

A strip changes only when a deployment of its target finishes, while the overview draws
one per target on every request (32 people refreshing it is the benchmark): each distinct
strip is computed and drawn once (``bar_strip`` and ``strip_svg`` keep the last ones), which
took the overview from about 16 to about 6 ms of CPU a page.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

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
    bars: tuple[Bar, ...]
    succeeded: int
    finished: int
    median_ms: float | None
    restored: frozenset[str]  # deployments whose rollback put the host back


#: What a bar is drawn from, of each row.
_DRAWN = ("id", "status", "rolled_back", "duration_ms", "requested_at")


def bar_strip(rows: list[Any], *, width: int = 240, height: int = 40, slots: int = 30) -> Strip:
    """Bars for ``rows`` (oldest first), scaled to the slowest; at least 3 px tall."""
    drawn = tuple(tuple(row[column] for column in _DRAWN) for row in rows[-slots:])
    return _strip(drawn, width, height, slots)


@functools.lru_cache(maxsize=4096)
def _strip(drawn: tuple[tuple[Any, ...], ...], width: int, height: int, slots: int) -> Strip:
    rows = [dict(zip(_DRAWN, values, strict=True)) for values in drawn]
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
        bars=tuple(bars),
        succeeded=len(ok),
        finished=len(rows),
        median_ms=ok[len(ok) // 2] if ok else None,
        restored=frozenset(r["id"] for r in rows if r["rolled_back"]),
    )


_SVG = Markup(
    '<svg class="strip" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
    'aria-label="{label}">\n'
    '  <line x1="0" y1="{base}" x2="{w}" y2="{base}" class="base"/>\n  {bars}\n</svg>'
)
_BAR = Markup(
    '<a href="{href}"><rect x="{x}" y="{y}" width="{width}" height="{height}" rx="1" '
    'class="{tone}"><title>{title}</title></rect></a>'
)


@functools.lru_cache(maxsize=4096)
def strip_svg(strip: Strip, label: str) -> Markup:
    """The strip as inline SVG (``Markup.format`` escapes every value)."""
    bars = Markup("").join(
        _BAR.format(
            href=b.href, x=b.x, y=b.y, width=b.width, height=b.height, tone=b.tone, title=b.title
        )
        for b in strip.bars
    )
    w, h = strip.width, strip.height
    return _SVG.format(w=w, h=h, label=label, base=h - 0.5, bars=bars)
