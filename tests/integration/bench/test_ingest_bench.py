"""The webhook ingest benchmark runs end to end (tiny sizes: this checks it works, not speed)."""

from __future__ import annotations

import pytest

from bench.ingest import STEADY_RATE, run_ingest

pytestmark = pytest.mark.integration


async def test_the_ingest_benchmark_runs() -> None:
    raw, burst, steady = await run_ingest(40)
    assert "raw nats-py" in raw.what and "32 in flight" in burst.what
    assert f"steady {STEADY_RATE:.0f} req/s" in steady.what
    assert all(r.rate > 0 and 0 < r.p50_ms <= r.p99_ms for r in (raw, burst, steady))
