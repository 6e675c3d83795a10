"""Writes that queue up are saved in one transaction, as if run one after another: each
caller gets its own result or exception, a call sees what the earlier calls of its batch
changed, the events keep the order the calls saved them in, nothing is visible to other
readers before the commit, and a conflict with another instance runs the batch again
(real PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

from hearth_eventstore.store import open_application
from hearth_eventstore.writes import Writes
from tests.support.relay_app import Inserts, Journal, JournalApp

pytestmark = pytest.mark.integration


class Named(Journal):
    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"journal/{name}")


class Ledger(JournalApp):
    def open(self, name: str) -> str:
        if self._get(Named.create_id(name)) is None:
            self.save(Named(name))
        return name

    def add(self, name: str, n: int) -> int:
        journal: Named | None = self._get(Named.create_id(name))
        if journal is None:
            raise LookupError(f"no journal {name}")
        journal.write(n)
        self.save(journal)
        return journal.lines

    def lines(self, name: str) -> int:
        journal: Named | None = self._get(Named.create_id(name))
        return -1 if journal is None else journal.lines


@pytest.fixture
def app(database_url: str) -> Iterator[Ledger]:
    application = open_application(Ledger, database_url, "writes")
    yield application
    application.close()


def stored(app: Ledger) -> list[tuple[UUID | str, int]]:
    return [
        (n.originator_id, n.originator_version)
        for n in app.recorder.select_notifications(1, 10_000)
    ]


async def test_queued_writes_share_one_transaction_in_call_order(app: Ledger) -> None:
    writes = Writes(app)
    names = [f"j{n}" for n in range(10)]
    await asyncio.gather(*(writes.alone(app.open, name) for name in names))
    inserts, before = Inserts(app), len(stored(app))
    calls = [(name, n) for n in range(2) for name in reversed(names)]  # interleaved
    results = await asyncio.gather(*(writes.batched(app.add, name, n) for name, n in calls))
    assert results == [1] * 10 + [2] * 10  # each caller its own answer
    assert inserts.count == 1
    order = [(Named.create_id(name), n + 2) for name, n in calls]  # version 1 is the open
    assert stored(app)[before:] == order


async def test_a_call_sees_what_an_earlier_call_of_its_batch_saved(app: Ledger) -> None:
    writes = Writes(app)
    opened, first, second = await asyncio.gather(
        writes.batched(app.open, "new"),
        writes.batched(app.add, "new", 0),
        writes.batched(app.add, "new", 1),
    )
    assert (opened, first, second) == ("new", 1, 2)
    assert app.lines("new") == 2


async def test_a_call_that_raises_fails_alone_and_the_others_are_saved(app: Ledger) -> None:
    writes = Writes(app)
    await writes.alone(app.open, "kept")

    def refuse() -> None:
        journal = app._get(Named.create_id("kept"))
        journal.write(99)  # recorded, then refused: must not be saved
        raise ValueError("refused")

    outcomes = await asyncio.gather(
        writes.batched(app.add, "kept", 0),
        writes.batched(refuse),
        writes.batched(app.add, "missing", 0),
        writes.batched(app.add, "kept", 1),
        return_exceptions=True,
    )
    assert outcomes[0] == 1 and outcomes[3] == 2
    assert isinstance(outcomes[1], ValueError) and isinstance(outcomes[2], LookupError)
    assert app.lines("kept") == 2


async def test_other_readers_see_nothing_of_a_batch_before_its_commit(app: Ledger) -> None:
    writes = Writes(app)
    await writes.alone(app.open, "shared")
    inside, release = threading.Event(), threading.Event()

    def held() -> int:
        lines = app.add("shared", 0)
        inside.set()
        release.wait(30)
        return lines

    batch = asyncio.gather(writes.batched(app.add, "shared", 1), writes.batched(held))
    await asyncio.to_thread(inside.wait, 30)
    try:
        assert await asyncio.to_thread(app.lines, "shared") == 0  # another thread's read
    finally:
        release.set()
    assert list(await batch) == [1, 2]
    assert app.lines("shared") == 2


async def test_a_conflict_with_another_instance_runs_the_batch_again(
    app: Ledger, database_url: str
) -> None:
    other = open_application(Ledger, database_url, "writes")
    writes = Writes(app)
    await writes.alone(app.open, "contested")
    runs = 0

    def raced() -> int:
        nonlocal runs
        runs += 1
        lines = app.add("contested", 1)
        if runs == 1:
            other.add("contested", 100)  # another instance commits first
        return lines

    try:
        results = await asyncio.gather(
            writes.batched(app.add, "contested", 0), writes.batched(raced)
        )
    finally:
        other.close()
    assert runs == 2
    assert list(results) == [2, 3]  # run again on top of the other instance's event
    assert app.lines("contested") == 3
