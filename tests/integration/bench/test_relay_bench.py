"""The bus benchmark's store and relay parts run end to end (tiny sizes: this checks they
work, not speed)."""

from __future__ import annotations

import pytest

from bench.relay import run_relay

pytestmark = pytest.mark.integration


async def test_the_relay_benchmark_runs() -> None:
    rows = await run_relay(40)
    appends = [row for row in rows if row.benchmark == "store append"]
    relays = [row for row in rows if row.benchmark == "relay"]
    assert any(row.what.startswith("baseline: raw asyncpg") for row in appends)
    assert any("aggregate save, one event each" in row.what for row in appends)
    assert relays[0].what.startswith("baseline: raw nats-py js.publish")
    assert relays[1].what.startswith("store -> JetStream acked")
    assert "timed from leading" in relays[1].what
    assert all(row.rate > 0 for row in rows)
