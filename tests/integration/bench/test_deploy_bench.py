"""The deployment benchmark runs end to end (tiny sizes: this checks it works, not speed)."""

from __future__ import annotations

import pytest

from bench.deploy import run_deploy

pytestmark = pytest.mark.integration


async def test_the_deployment_benchmark_runs() -> None:
    timings = await run_deploy(files=5, fan_out=2)
    assert [t.benchmark for t in timings] == ["push to live"] * 4 + ["fan-out"] * 2
    assert all(t.seconds > 0 for t in timings)
