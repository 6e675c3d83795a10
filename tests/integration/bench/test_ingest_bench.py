"""The webhook ingest benchmark runs end to end (tiny sizes: this checks it works, not speed)."""

from __future__ import annotations

import pytest

from bench.ingest import STEADY_RATE, run_ingest

pytestmark = pytest.mark.integration


async def test_the_ingest_benchmark_runs() -> None:
    rows = await run_ingest(40)
    whats = [row.what for row in rows]
    assert "raw nats-py" in whats[0] and "raw again" in whats[-1]
    assert sum("floor: bare aiohttp" in what for what in whats) == 2
    for workers in ("1 worker =", "2 workers =", "3 workers ="):
        assert sum("32 in flight" in w and workers in w for w in whats) == 1, whats
    assert sum(f"steady {STEADY_RATE:.0f} req/s" in what for what in whats) == 2
    assert any("logging each delivery" in what for what in whats)
    assert all(r.rate > 0 and 0 < r.p50_ms <= r.p99_ms for r in rows)
