"""A short ``python -m bench faults``: 10 kill -9 trials, every component at least once."""

from __future__ import annotations

import random

import pytest

from bench.faults import TRIAL_POINTS, run_faults, schedule, summarize
from hearth_servicekit.faults import POINTS

pytestmark = pytest.mark.integration


def test_the_schedule_takes_components_in_turn_and_every_point_of_each() -> None:
    points = schedule(200, random.Random(1))
    assert {p.split(".")[0] for p in points[:5]} == set(TRIAL_POINTS)
    assert set(points) == {p for ps in TRIAL_POINTS.values() for p in ps}
    assert set(POINTS["deploy"]) | set(POINTS["rollback"]) <= set(points)


async def test_ten_kill_trials_lose_duplicate_and_half_apply_nothing() -> None:
    trials = await run_faults(10, seed=7)  # two per component; `bench faults N` for more
    assert {t.component for t in trials} == set(TRIAL_POINTS)
    problems = [t for t in trials if not t.hit or t.other]
    assert not problems, problems  # each died where it was told, and nothing else went wrong
    for component, point, _, _, lost, duplicated, half, _ in summarize(trials):
        assert (lost, duplicated, half) == (0, 0, 0), (component, point)
