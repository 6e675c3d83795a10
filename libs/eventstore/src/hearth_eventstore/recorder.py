"""The event store's recorder: one round trip per save, insert order equal to commit order.

eventsourcing's PostgreSQL recorder saves in a pipelined transaction (lock the table, NOTIFY,
insert, sync, fetch the ids, commit): two round trips and much client work per save. Its
optional database function does it in one statement but leaves the table lock out, and
without the lock two saves can commit in the other order than their notification ids,
which lets a reader (the relay) pass an id that commits a moment later. This recorder uses
a function of its own, with the lock: one round trip, one commit, and the ordering the
relay relies on.

The events go to the function as four arrays in binary (ids, versions, topics, states), not
as an array of composite values in text: psycopg escapes every state byte of a composite
in Python, which cost more client time than the rest of a save. The statement is composed
once. (Measured by ``python -m bench bus``, "store append".)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.adapt import PyFormat
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier, Placeholder

#: Saves of up to this many events pass each value as a parameter of its own (one prepared
#: statement per count); larger ones pass four arrays.
MAX_SCALARS = 16


def _function_name(table: str) -> str:
    # "append", not the composite-array "insert" of earlier versions: an instance of that
    # version may still run against the same schema (a rolling upgrade), so its function
    # stays as it was.
    name = f"hearth_append_{table}"
    if len(name) <= 63:  # PostgreSQL cuts longer identifiers, which could make two equal
        return name
    return f"hearth_append_{hashlib.sha256(table.encode()).hexdigest()[:32]}"


class HearthRecorder(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One function per events table: two applications may share a schema (each has
        # its own table), and a function per schema would insert into the last one created.
        self.pg_function_name_insert_events = _function_name(self.events_table_name)
        function = Identifier(self.datastore.schema, self.pg_function_name_insert_events)
        self._function = function
        self._statements: dict[int, str] = {}
        self.sql_create_statements[self.create_insert_function_statement_index] = SQL(
            "CREATE OR REPLACE FUNCTION "
            "{function}(ids {id_type}[], versions bigint[], topics text[], states bytea[]) "
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
            "    SELECT * FROM unnest(ids, versions, topics, states)"
            "    RETURNING notification_id;"
            "END;"
            "$BODY$"
        ).format(
            function=function,
            id_type=Identifier(self.datastore.originator_id_type),
            lock_timeout=self.datastore.lock_timeout,
            channel=Identifier(self.channel_name),
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        count = len(stored_events)
        ids = [e.originator_id for e in stored_events]
        versions = [e.originator_version for e in stored_events]
        topics = [e.topic for e in stored_events]
        states = [e.state for e in stored_events]
        params: list[Any]
        if count <= MAX_SCALARS:
            statement, params = self._statement(count), [*ids, *versions, *topics, *states]
        else:
            statement, params = self._statement(0), [ids, versions, topics, states]
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            curs.execute(statement, params, prepare=True)
            return [row[0] for row in curs.fetchall()]

    def _statement(self, count: int) -> str:
        """The call for ``count`` events, each value one binary parameter (psycopg dumps
        scalars in C, lists in Python); 0: four array parameters, for large saves."""
        statement = self._statements.get(count)
        if statement is None:
            value = Placeholder(format=PyFormat.BINARY)
            array = SQL("ARRAY[{}]").format(SQL(", ").join([value] * count)) if count else value
            types = (self.datastore.originator_id_type, "bigint", "text", "bytea")
            args = SQL(", ").join(SQL("{}::{}[]").format(array, SQL(t)) for t in types)
            call = SQL("SELECT * FROM {}({})").format(self._function, args)
            statement = self._statements[count] = call.as_string()
        return statement
