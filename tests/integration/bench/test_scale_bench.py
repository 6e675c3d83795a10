"""The one-instance-beside-two benchmark runs end to end on its 3-node cluster (tiny sizes:
this checks it works, not speed)."""

from __future__ import annotations

import pytest

from bench.scale import run_scale

pytestmark = pytest.mark.integration


async def test_the_scale_benchmark_runs() -> None:
    rows = await run_scale(webhooks=40, requests=40, concurrency=4)
    assert [r.what for r in rows] == [
        "signed push -> 202, 1 gateway",
        "signed push -> 202, 2 gateways",
        "GET /api/v1/targets, 1 query API",
        "GET /api/v1/targets, 2 query APIs",
    ]
    assert all(r.rate > 0 and r.p99_ms >= r.p50_ms > 0 for r in rows)
