"""The recorder's append: one call per save, whatever its size, all or nothing.

Saves of up to ``MAX_SCALARS`` events pass every value as a parameter of its own; larger
ones pass four arrays. Both paths must store the events in save order with ascending
notification ids, and a conflict anywhere in a save must store none of it.
"""

from __future__ import annotations

import pytest
from eventsourcing.persistence import RecordConflictError

from hearth_eventstore.recorder import MAX_SCALARS
from hearth_eventstore.store import open_application
from tests.support.relay_app import Journal, JournalApp

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("count", [1, 2, MAX_SCALARS, MAX_SCALARS + 1, 3 * MAX_SCALARS])
def test_a_save_of_any_size_stores_its_events_in_order(database_url: str, count: int) -> None:
    app = open_application(JournalApp, database_url, f"append{count}")
    first, second = Journal("first"), Journal("second")
    for n in range(count):
        (first if n % 2 == 0 else second).write(n)
    recordings = app.save(first, second)  # creations and writes, two aggregates, one save
    ids = [r.notification.id for r in recordings]
    assert ids == sorted(ids) and len(set(ids)) == count + 2
    stored = app.recorder.select_notifications(1, count + 2)
    assert [n.id for n in stored] == ids
    assert [(n.originator_id, n.originator_version) for n in stored] == [
        (r.domain_event.originator_id, r.domain_event.originator_version) for r in recordings
    ]
    stored_first: Journal = app.repository.get(first.id)
    stored_second: Journal = app.repository.get(second.id)
    assert (stored_first.lines, stored_second.lines) == ((count + 1) // 2, count // 2)


@pytest.mark.parametrize("count", [1, 3 * MAX_SCALARS])
def test_a_conflicting_save_stores_nothing(database_url: str, count: int) -> None:
    app = open_application(JournalApp, database_url, f"conflict{count}")
    journal_id = app.start("shared")
    other = Journal("other")
    stale: Journal = app.repository.get(journal_id)
    app.append(journal_id, 1)  # another writer got there first
    for n in range(count):
        other.write(n)
        stale.write(n)
    with pytest.raises(RecordConflictError):
        app.save(other, stale)
    assert [n.originator_id for n in app.recorder.select_notifications(1, 100)] == [
        journal_id,
        journal_id,
    ]


def test_an_empty_save_stores_nothing(database_url: str) -> None:
    app = open_application(JournalApp, database_url, "empty")
    assert app.save() == []
    assert app.recorder.select_notifications(1, 10) == []


def test_a_save_takes_aggregates_bare_events_and_none(database_url: str) -> None:
    app = open_application(JournalApp, database_url, "mixed")
    journal, loose = Journal("journal"), Journal("loose")
    journal.write(1)
    loose.write(2)
    events = loose.collect_events()  # saved as events, not through their aggregate
    recordings = app.save(None, journal, *events)
    assert [r.domain_event.originator_id for r in recordings] == [journal.id] * 2 + [loose.id] * 2
    assert journal.collect_events() == []  # the aggregate's pending events were taken
    stored: Journal = app.repository.get(loose.id)
    assert stored.lines == 1
