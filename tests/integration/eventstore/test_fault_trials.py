"""The relay trials of ``python -m bench faults``: random kill -9 points, each judged."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.fault_relay import judge, run_trials, summarize
from hearth.embedded.nats import EmbeddedNats

pytestmark = pytest.mark.integration


def test_the_judge_counts_lost_duplicated_and_reordered() -> None:
    assert judge("p", True, ["a", "b", "c"], ["a", "b", "c"]) == judge("p", True, [], [])
    outcome = judge("p", True, ["a", "b", "c"], ["b", "a", "a"])
    assert (outcome.lost, outcome.duplicated, outcome.reordered) == (1, 1, True)


async def test_five_random_kill_trials_lose_duplicate_and_reorder_nothing(
    database_url: str, nats_factory: Callable[..., EmbeddedNats]
) -> None:
    server = nats_factory()
    outcomes = await run_trials(database_url, server.url, 5, seed=3)
    assert len(outcomes) == 5
    rows = summarize(outcomes)
    assert [row[:2] for row in rows] == [  # every point had its turn
        ("relay.after_position", 1),
        ("relay.after_publish_before_position", 2),
        ("relay.before_publish", 2),
    ]
    for point, trials, missed, resent, lost, duplicated, reordered in rows:
        assert (missed, lost, duplicated, reordered) == (0, 0, 0, 0), point
        # only an ack whose position was not saved is sent again (and JetStream drops it)
        assert resent == (trials if point == "relay.after_publish_before_position" else 0)
