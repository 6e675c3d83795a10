"""The big-configuration benchmark runs end to end (tiny sizes: it works, not how fast)."""

from __future__ import annotations

import pytest

from bench.big import big_tree, run_big

pytestmark = pytest.mark.integration


def test_the_generated_tree_is_deterministic_and_mixed() -> None:
    tree = big_tree(20, 4, 1)
    assert tree == big_tree(20, 4, 1) and len(tree) == 20
    binaries = [p for p in tree if p.startswith("www/")]
    assert len(binaries) == 4
    assert abs(sum(len(tree[p]) for p in binaries) - 1024 * 1024) < 16


async def test_the_big_benchmark_runs() -> None:
    timings = await run_big(files=12, binaries=2, megabytes=1, repeats=2, firsts=2)

    assert [(t.benchmark, t.what.split(":")[0]) for t in timings] == [
        ("first deployment", "hearth"),
        ("first deployment", "hearth"),
        ("first deployment", "hearth"),
        ("first deployment", "baseline"),
        ("one-file change", "hearth"),
        ("one-file change", "hearth"),
        ("one-file change", "baseline"),
    ]
    assert all(t.p50_s > 0 and t.detail for t in timings)
    assert all(t.p95_s is not None for t in timings[1:])
