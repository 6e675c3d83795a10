"""The CLI benchmark runs end to end (two repeats: this checks it works, not speed)."""

from __future__ import annotations

import pytest

from bench.cli import run_cli

pytestmark = pytest.mark.integration


def test_the_cli_benchmark_runs() -> None:
    rows = run_cli(repeats=2)
    assert [r.what.split(" (")[0] for r in rows] == [
        "baseline: python -c pass",
        "hearth --help",
        "hearth status",
        "hearth status",
    ]
    assert all(0 < r.p50_ms <= r.p95_ms for r in rows)
