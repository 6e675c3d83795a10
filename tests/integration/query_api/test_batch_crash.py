"""A query-api killed (SIGKILL) while a batch is partly written leaves nothing of it: the
rows and the stream position share one transaction, so the next instance projects the
batch again from the start and its read models equal a rebuild from the stream."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.fault_project import open_project_bench, project_trial
from hearth.embedded.nats import EmbeddedNats

pytestmark = pytest.mark.integration


async def test_a_kill_in_the_middle_of_a_batch_loses_and_doubles_nothing(
    nats_factory: Callable[..., EmbeddedNats], postgres_admin_url: str, tmp_path: Path
) -> None:
    """Each trial puts a random part of a history in the stream first, so the killed batch
    differs; the kill comes after its first round trip, with more of it still queued."""
    server = nats_factory()
    bench = await open_project_bench(server.url, postgres_admin_url, tmp_path / "project")
    try:
        rng = random.Random(13)
        for n in range(3):
            trial = await project_trial(bench, n, "project.batch_partly_written", rng)
            assert trial.hit, trial  # it died at that point, in the middle of a batch
            assert (trial.lost, trial.duplicated, trial.half_applied, trial.other) == (
                0,
                0,
                0,
                (),
            ), trial
    finally:
        await bench.close()
