"""The consume benchmark runs end to end (tiny sizes: this checks it works, not speed)."""

from __future__ import annotations

import pytest

from bench.consumer import run_consume

pytestmark = pytest.mark.integration


async def test_the_consume_benchmark_runs() -> None:
    rows = await run_consume(60)
    whats = [row.what for row in rows]
    assert whats[0].startswith("baseline: raw nats-py")
    assert any("EventConsumer" in w for w in whats)
    assert sum("FastStream" in w for w in whats) == 2
    assert all(row.rate > 0 for row in rows)
