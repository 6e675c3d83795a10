"""The event store's recorder: one round trip per save, insert order equal to commit order.

eventsourcing's PostgreSQL recorder saves in a pipelined transaction (lock the table, NOTIFY,
insert, sync, fetch the ids, commit): two round trips and much client work per save. Its
optional database function does it in one statement but leaves the table lock out, and
without the lock two saves can commit in the other order than their notification ids,
which lets a reader (the relay) pass an id that commits a moment later. This recorder uses
a function of its own, with the lock: one round trip, one commit, and the ordering the
relay relies on. (Measured by ``python -m bench bus``, "store append".)
"""

from __future__ import annotations

import hashlib
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier


def _function_name(table: str) -> str:
    name = f"hearth_insert_{table}"
    if len(name) <= 63:  # PostgreSQL cuts longer identifiers, which could make two equal
        return name
    return f"hearth_insert_{hashlib.sha256(table.encode()).hexdigest()[:32]}"


class HearthRecorder(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One function per events table: two applications may share a schema (each has
        # its own table), and a function per schema would insert into the last one created.
        self.pg_function_name_insert_events = _function_name(self.events_table_name)
        self.sql_invoke_pg_function_insert_events = SQL(
            "SELECT * FROM {schema}.{insert_events}((%s))"
        ).format(
            schema=Identifier(self.datastore.schema),
            insert_events=Identifier(self.pg_function_name_insert_events),
        )
        self.sql_create_pg_function_insert_events = SQL(
            "CREATE OR REPLACE FUNCTION "
            "{schema}.{insert_events}(events {schema}.{event}[]) "
            "RETURNS SETOF bigint "
            "LANGUAGE plpgsql "
            "AS "
            "$BODY$"
            "BEGIN"
            "    SET LOCAL lock_timeout = '{lock_timeout}s';"
            # Serialise inserting transactions: ids are handed out in commit order.
            "    LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;"
            "    NOTIFY {channel};"
            "    RETURN QUERY"
            "    INSERT INTO {schema}.{table} AS t ("
            "    originator_id, originator_version, topic, state)"
            "    SELECT originator_id, originator_version, topic, state"
            "    FROM unnest(events)"
            "    RETURNING notification_id;"
            "END;"
            "$BODY$"
        ).format(
            insert_events=Identifier(self.pg_function_name_insert_events),
            lock_timeout=self.datastore.lock_timeout,
            channel=Identifier(self.channel_name),
            event=Identifier(self.stored_event_type_name),
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
        )
        self.sql_create_statements[self.create_insert_function_statement_index] = (
            self.sql_create_pg_function_insert_events
        )
