"""Saves commit in the order of their notification ids.

The relay reads the notification log from its position onwards; if a later id could
commit before an earlier one, a read in between would show the later id alone and the
relay would pass the earlier one for good. The store's insert function locks the table
(hearth_eventstore.recorder): a second save waits until the first has committed.
"""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from hearth_eventstore.store import open_application
from tests.support.relay_app import JournalApp

pytestmark = pytest.mark.integration


def insert_one(conn: psycopg.Connection, app: JournalApp) -> int:
    recorder = app.recorder
    statement = sql.SQL(
        "SELECT * FROM {schema}.{function}"
        "(ARRAY[%s]::uuid[], ARRAY[1]::bigint[], ARRAY['test'], ARRAY[''::bytea])"
    ).format(
        schema=sql.Identifier(app.schema),
        function=sql.Identifier(recorder.pg_function_name_insert_events),  # type: ignore[attr-defined]
    )
    row = conn.execute(statement, (uuid.uuid4(),)).fetchone()
    assert row is not None
    return int(row[0])


def visible(app: JournalApp) -> list[int]:
    return [n.id for n in app.recorder.select_notifications(1, 1000)]


def test_a_save_waits_for_an_earlier_one_to_commit(database_url: str) -> None:
    app = open_application(JournalApp, database_url, "ordering")
    first = psycopg.connect(database_url)  # a transaction: inserted, not yet committed
    second = psycopg.connect(database_url, autocommit=True)
    try:
        first_id = insert_one(first, app)
        second_pid = second.info.backend_pid
        result: list[int] = []
        later = threading.Thread(target=lambda: result.append(insert_one(second, app)))
        later.start()
        # The second save either finished or waits on a lock; nothing else can happen.
        with psycopg.connect(database_url, autocommit=True) as watch:
            deadline = time.monotonic() + 30
            waiting = None
            while later.is_alive() and time.monotonic() < deadline:
                waiting = watch.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (second_pid,)
                ).fetchone()
                if waiting and waiting[0] == "Lock":
                    break
        # What a reader (the relay) sees now must have no hole before its last id.
        seen = visible(app)
        assert seen == list(range(1, len(seen) + 1)), f"a reader saw {seen} before {first_id}"
        assert later.is_alive(), "the second save did not wait for the first to commit"
        first.commit()
        later.join(30)
        assert result and result[0] > first_id
        seen = visible(app)
        assert seen[-2:] == [first_id, result[0]]
    finally:
        first.close()
        second.close()


class OtherApp(JournalApp):
    """A second application: its own events table, in the same schema."""


def test_two_applications_in_one_schema_keep_their_own_events(database_url: str) -> None:
    mine = open_application(JournalApp, database_url, "shared")
    open_application(OtherApp, database_url, "shared")  # opened after: must not take over
    journal = mine.start("mine")
    mine.append(journal, 2)
    assert [n.id for n in mine.recorder.select_notifications(1, 10)] == [1, 2, 3]
    assert mine.repository.get(journal).lines == 2
