"""The device-fleet benchmark runs end to end (a few devices: this checks it works, not speed)."""

from __future__ import annotations

import pytest

from bench.devices import run_devices

pytestmark = pytest.mark.integration


async def test_the_device_fleet_benchmark_runs() -> None:
    rows = await run_devices(count=20, period_s=1, steady_s=1)
    assert [r.benchmark for r in rows] == ["connect"] * 3 + ["steady state"] * 2 + [
        "drift scan"
    ] * 2 + ["apply"] * 2
    assert "20 devices adopted to live" in rows[2].what
    assert "full drift scan of 20 devices" in rows[6].what and "20 devices" in rows[8].what
    assert all(r.value.split()[0].replace(".", "").replace("-", "").isdigit() for r in rows)
