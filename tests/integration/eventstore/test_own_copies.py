"""Writes start from the aggregates this process last saved (``own_copies_of``), without
asking PostgreSQL for newer events first; a copy another instance got ahead of fails on
the version and the write runs again on what is stored (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from hearth_eventstore.own_copies import OwnCopies
from hearth_eventstore.store import open_application
from hearth_eventstore.writes import Writes
from tests.integration.eventstore.test_writes import Ledger, Named
from tests.support.spies import spy

pytestmark = pytest.mark.integration


class TrustingLedger(Ledger):
    name = "Ledger"  # the same tables as a plain Ledger's, another instance here
    own_copies_of = (Named,)

    def look(self, name: str) -> int:
        """Reads a journal in a write without changing it, and keeps it again."""
        journal: Named = self._get(Named.create_id(name))
        self.keep_own(journal)
        return journal.lines

    def write_then_add(self, name: str, n: int) -> int:
        """Records a line without saving it, then runs ``add``, which reads the journal
        again: a write that holds steps and stores them with its next command does so."""
        journal: Named = self._get(Named.create_id(name))
        journal.write(n)
        return self.add(name, n + 1)


@pytest.fixture
def app(database_url: str) -> Iterator[TrustingLedger]:
    application = open_application(TrustingLedger, database_url, "own_copies")
    yield application
    application.close()


def asks(app: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Each time the application asks the store for an aggregate's events."""
    return spy(monkeypatch, app.repository.event_store, "get")


async def test_a_write_starts_from_what_this_process_saved_last(
    app: TrustingLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = Writes(app)
    await writes.batched(app.open, "own")
    asked = asks(app, monkeypatch)
    assert await writes.batched(app.add, "own", 0) == 1  # one call alone
    assert list(await asyncio.gather(*(writes.batched(app.add, "own", n) for n in (1, 2)))) == [
        2,
        3,
    ]  # a batch
    assert len(asked) == 0
    assert app.lines("own") == 3  # a read outside a write asks the store
    assert len(asked) == 1


@pytest.mark.parametrize("together", [1, 2], ids=["alone", "in a batch"])
async def test_a_copy_another_instance_got_ahead_of_is_read_again(
    app: TrustingLedger, database_url: str, together: int
) -> None:
    other = open_application(Ledger, database_url, "own_copies")
    writes = Writes(app)
    try:
        await writes.batched(app.open, "raced")
        await writes.batched(app.add, "raced", 0)  # kept at version 2
        other.add("raced", 100)  # version 3, which the kept copy does not know
        calls = [writes.batched(app.add, "raced", n) for n in range(together)]
        results = await asyncio.gather(*calls)
    finally:
        other.close()
    assert list(results) == list(range(3, 3 + together))  # on top of the other's event
    versions = [
        n.originator_version
        for n in app.recorder.select_notifications(1, 100)
        if n.originator_id == Named.create_id("raced")
    ]
    assert versions == list(range(1, 4 + together))


async def test_a_save_outside_a_write_is_not_overwritten_by_an_old_copy(
    app: TrustingLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = Writes(app)
    await writes.batched(app.open, "direct")
    app.add("direct", 0)  # saved, but not as a write: the kept copy is behind it now
    asked = asks(app, monkeypatch)
    assert await writes.batched(app.add, "direct", 1) == 2
    assert len(asked) == 1  # asked the store, and needed no second try


async def test_classes_not_named_are_always_read_from_the_store(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_application(Ledger, database_url, "own_copies")
    try:
        writes = Writes(app)
        await writes.batched(app.open, "plain")
        asked = asks(app, monkeypatch)
        await writes.batched(app.add, "plain", 0)
        assert len(asked) == 1
    finally:
        app.close()


def test_kept_copies_are_private_taken_once_and_bounded() -> None:
    copies = OwnCopies(kept=2)
    first = Named("a")
    copies.keep([first])
    first.write(1)  # the caller's object changes; the kept copy does not
    got = copies.take(Named.create_id("a"))
    assert got is not None and got.lines == 0 and got is not first
    assert copies.take(Named.create_id("a")) is None  # the taker owns it now
    copies.keep([Named("a"), Named("b"), Named("c")])
    assert copies.take(Named.create_id("a")) is None and len(copies) == 2
    copies.drop([Named.create_id("b")])
    assert copies.take(Named.create_id("b")) is None


async def test_one_copy_per_write(app: TrustingLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write takes the kept copy instead of copying it again: one copy a write (when its
    save is kept), not two."""
    from hearth_eventstore import own_copies

    writes = Writes(app)
    await writes.batched(app.open, "copied")
    copied = spy(monkeypatch, own_copies, "private_copy")
    for n in range(3):
        await writes.batched(app.add, "copied", n)
    assert len(copied) == 3


async def test_a_write_that_saves_nothing_leaves_no_copy(
    app: TrustingLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = Writes(app)
    await writes.batched(app.open, "peeked")
    await writes.batched(app.lines, "peeked")  # takes the copy, saves nothing
    asked = asks(app, monkeypatch)
    assert await writes.batched(app.add, "peeked", 0) == 1
    assert len(asked) == 1  # read from the store: nothing was kept for it


def test_a_private_copy_is_deep_with_or_without_pickle() -> None:
    from hearth_eventstore.own_copies import private_copy

    class Local(Named):  # defined in a function: pickle cannot name it
        pass

    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(Local("local"))
    for aggregate in (Named("deep"), Local("local")):
        aggregate.write(1)
        aggregate.collect_events()
        copy = private_copy(aggregate)
        assert type(copy) is type(aggregate) and vars(copy) == vars(aggregate)
        copy.write(2)
        assert aggregate.lines == 1 and copy.lines == 2


async def test_an_aggregate_looked_at_in_a_write_can_be_kept_again(
    app: TrustingLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = Writes(app)
    await writes.batched(app.open, "looked")
    assert await writes.batched(app.look, "looked") == 0
    asked = asks(app, monkeypatch)
    assert await writes.batched(app.add, "looked", 0) == 1
    assert len(asked) == 0  # the next write started from the copy kept again
    changed = Named("changed")
    with pytest.raises(ValueError, match="not saved"):
        app.keep_own(changed)  # its creation is not saved


class CachedLedger(Ledger):
    name = "Ledger"
    env = {"AGGREGATE_CACHE_MAXSIZE": "100"}


async def test_a_cached_aggregate_is_read_as_a_private_copy_made_through_pickle(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read from eventsourcing's cache is a copy the caller owns, as eventsourcing's own
    ``deepcopy`` made it, but through pickle: the deployer read its target book (twenty
    declarations) at every deployment, 0.28 ms a deep copy against 0.12."""
    import eventsourcing.application

    from hearth_eventstore import store

    app = open_application(CachedLedger, database_url, "cached_reads")
    try:
        writes = Writes(app)
        await writes.batched(app.open, "cached")
        await writes.batched(app.add, "cached", 1)
        deep = spy(monkeypatch, eventsourcing.application, "deepcopy")
        copied = spy(monkeypatch, store, "private_copy")
        first: Named = app._get(Named.create_id("cached"))
        first.write(2)  # a caller's change to its copy ...
        assert app.lines("cached") == 1  # ... is not what the next caller reads
        assert len(copied) == 2 and deep == []
    finally:
        app.close()


@pytest.mark.parametrize("together", [1, 2], ids=["alone", "in a batch"])
async def test_an_aggregate_read_twice_in_one_write_is_the_same_object(
    app: TrustingLedger, together: int
) -> None:
    """What the write's first read recorded and has not saved is in its second read, and
    saved with it: alone as in a batch."""
    writes = Writes(app)
    names = [f"twice-{n}" for n in range(together)]
    for name in names:
        await writes.batched(app.open, name)
    results = await asyncio.gather(*(writes.batched(app.write_then_add, n, 0) for n in names))
    assert list(results) == [2] * together
    assert [app.lines(name) for name in names] == [2] * together  # both lines stored
