"""Host records every deployer instance can read: the last one each target's successful
deployment wrote, in the deployer's schema.

Each instance keeps its records in its own data directory (:mod:`.records`). When
another instance deployed to a target since, an instance's own record is behind; the
record the other one shared is not, so the quick check still hashes only what changed
behind Hearth's back, and drift is judged as with one instance. A record is stored with
the deployment whose end it describes; a reader asks for the one it needs and takes
nothing older. Synchronous (psycopg): call it from asyncio through a thread.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from psycopg import sql


class SharedRecords(Protocol):
    def load(self, target: str) -> tuple[str, bytes] | None:
        """The record last shared for ``target`` and the deployment it names."""
        ...

    def save(self, target: str, deployment_id: str, data: bytes) -> None:
        """Share ``data``, the record ``deployment_id`` left, in place of the last one."""
        ...


class PostgresSharedRecords:
    """``SharedRecords`` in a table of the deployer's schema, over the event store's
    connection pool (``datastore``: eventsourcing's ``PostgresDatastore``)."""

    def __init__(self, datastore: Any, schema: str) -> None:
        self.datastore = datastore
        self.table = sql.Identifier(schema, "hearth_host_records")

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            # Two instances starting at once would create the same table at once.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('hearth.host_records'))")
            cursor.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (target text PRIMARY KEY, "
                    "deployment_id text NOT NULL, record bytea NOT NULL)"
                ).format(self.table)
            )

    def load(self, target: str) -> tuple[str, bytes] | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                sql.SQL("SELECT deployment_id, record FROM {} WHERE target = %s").format(
                    self.table
                ),
                (target,),
            )
            row = cursor.fetchone()
        return None if row is None else (row["deployment_id"], bytes(row["record"]))

    def save(self, target: str, deployment_id: str, data: bytes) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL(
                    "INSERT INTO {} (target, deployment_id, record) VALUES (%s, %s, %s) "
                    "ON CONFLICT (target) DO UPDATE "
                    "SET deployment_id = EXCLUDED.deployment_id, record = EXCLUDED.record"
                ).format(self.table),
                (target, deployment_id, data),
            )


class MemorySharedRecords:
    """``SharedRecords`` in memory, for tests (several ``HostRecords`` may share one)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, bytes]] = {}
        self._lock = threading.Lock()

    def load(self, target: str) -> tuple[str, bytes] | None:
        with self._lock:
            return self.rows.get(target)

    def save(self, target: str, deployment_id: str, data: bytes) -> None:
        with self._lock:
            self.rows[target] = (deployment_id, data)
