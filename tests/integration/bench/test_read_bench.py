"""The read-side benchmark runs end to end (tiny sizes: this checks it works, not speed)."""

from __future__ import annotations

import pytest

from bench.read_side import run_read_side

pytestmark = pytest.mark.integration


async def test_the_read_side_benchmark_runs() -> None:
    rows = await run_read_side(events=400, rate=50, seconds=2, requests=40, concurrency=4)
    assert [r.benchmark for r in rows] == [
        "catch-up",
        "catch-up",
        "catch-up",
        "API: targets list",
        "API: targets list",
        "API: deployments list",
        "API: deployments list",
        "API: targets list",
        "rebuild",
        "rebuild",
        "live lag",
        "live lag",
    ]
    assert all(r.rate > 0 for r in rows)
    assert "a backlog of 200 events" in rows[2].what
    # Every measured latency is a real one: each event was seen on the feed and raw.
    assert all(r.p50_ms > 0 and r.p99_ms >= r.p50_ms for r in rows if r.p99_ms)
    assert "rebuild of 400 events" in rows[9].what  # the whole stream replayed
