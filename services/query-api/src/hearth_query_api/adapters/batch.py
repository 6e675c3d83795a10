"""A batch's projection statements in as few round trips as their order allows.

The projections write as if each statement ran at once (``execute``/``executemany``, the
asyncpg calls); :class:`BatchWriter` queues them instead, one lane per table written, and
sends each run of the same statement in a lane as one ``executemany`` (pipelined by
asyncpg). The result is the one the statements give in event order, because a lane is
sent early whenever the order could show:

- before a statement that reads table T (``FROM T``) is queued, T's lane is sent, so it
  sees every earlier write to T and no later one;
- before a statement that writes T is queued, every lane holding a reader of T is made
  to go before T's lane (sent now only if it must also follow T's lane), so no reader
  sees a later write.

Statements within a lane keep their order. Everything runs inside the caller's
transaction, which also stores the stream position: a crash anywhere in a batch leaves
nothing of it.

**Row keys.** A statement may say which rows it touches: ``key=K`` promises that it reads
and writes only rows that belong to K (a deployment id: the deployment's row, its steps,
its logs; a target's name: its row) in every table it names. Statements with different
keys commute, so the writer may do better than table order:

- a keyed statement joins the last run of the same statement in its lane when no later
  run in that lane holds its key (or an unkeyed statement): a batch's updates of twenty
  deployments, interleaved with their inserts, go as one run of each, not forty;
- a keyed read of T sends T's lane only if that lane holds a write with the same key (or
  an unkeyed one), and a keyed write to T sends only the lanes reading T with its key.

An unkeyed statement is a barrier, exactly as before.

**Facts.** What an event said once and never changes (whether a deployment is a dry run)
is kept in :class:`Facts` by the projector, across batches, so that a later event's
statement needs no read of another table for it (which would send that table's lane).
A fact from a batch that was rolled back is still true: facts never change.

Measured at catch-up (batches of 256 events, about 23 deployments each): 144 round trips
per batch by table order alone, 12 with row keys and facts.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hearth_query_api.adapters.schema import READ_TABLES
from hearth_servicekit.faults import fault_point

_WRITES = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE)\s+([a-z_]+)\b", re.IGNORECASE)
_READS = re.compile(r"\b(?:FROM|JOIN)\s+([a-z_]+)\b", re.IGNORECASE)

Rows = list[tuple[Any, ...]]


@functools.cache
def tables_of(sql: str, tables: tuple[str, ...] = READ_TABLES) -> tuple[str, frozenset[str]]:
    """The read model a statement writes, and the others it reads."""
    written = _WRITES.match(sql)
    if written is None or written[1] not in tables:
        raise ValueError(f"a projection statement must write one read model: {sql[:60]!r}")
    reads = frozenset(t for t in _READS.findall(sql) if t in tables) - {written[1]}
    return written[1], reads


#: A run: one statement, its rows in order, and the keys they belong to (None: unkeyed).
class _Run:
    __slots__ = ("keys", "rows", "sql")

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.rows: Rows = []
        self.keys: set[Any] = set()


_ANY = object()  # an unkeyed statement's key: it conflicts with every key


class Facts:
    """Values events stated once and never change, by (kind, key); the oldest are
    forgotten past ``kept`` (a projection then reads its table instead)."""

    def __init__(self, kept: int = 50_000) -> None:
        self._kept = kept
        self._known: dict[tuple[str, Any], Any] = {}

    def remember(self, kind: str, key: Any, value: Any) -> None:
        self._known[(kind, key)] = value
        if len(self._known) > self._kept:
            del self._known[next(iter(self._known))]

    def recall(self, kind: str, key: Any) -> Any:
        return self._known.get((kind, key))


class BatchWriter:
    def __init__(
        self, conn: Any, tables: tuple[str, ...] = READ_TABLES, facts: Facts | None = None
    ) -> None:
        self._conn = conn
        self.facts = facts if facts is not None else Facts()
        self._tables = tables
        self._lanes: dict[str, list[_Run]] = {}
        # lane -> table it reads -> the keys of its queued readers of that table
        self._reading: dict[str, dict[str, set[Any]]] = {}
        # lane -> the lanes that must be sent before it (their readers of its table came
        # before its writes)
        self._after: dict[str, set[str]] = {}
        self.round_trips = 0

    async def execute(self, sql: str, *args: Any, key: Any = None) -> None:
        await self._queue(sql, [args], key)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """A committed value read at once (queued writes are not seen: read only what no
        statement of this batch can have changed)."""
        self.round_trips += 1
        return await self._conn.fetchval(sql, *args)

    async def executemany(self, sql: str, rows: Any, key: Any = None) -> None:
        rows = [tuple(row) for row in rows]
        if rows:
            await self._queue(sql, rows, key)

    async def _queue(self, sql: str, rows: Rows, key: Any) -> None:
        key = _ANY if key is None else key
        table, reads = tables_of(sql, self._tables)
        for read in reads:
            if _holds(self._lanes.get(read, ()), key):
                await self._send(read)
        for lane, reading in list(self._reading.items()):
            if lane == table or not _conflicts(reading.get(table, ()), key):
                continue
            if self._precedes(table, lane):
                await self._send(lane)  # it cannot also go after this write: send it now
            else:
                self._after.setdefault(table, set()).add(lane)
        runs = self._lanes.setdefault(table, [])
        run = _run_to_join(runs, sql, key)
        if run is None:
            run = _Run(sql)
            runs.append(run)
        run.rows.extend(rows)
        run.keys.add(key)
        if reads:  # only lanes with readers are listed: every write looks through them
            reading = self._reading.setdefault(table, {})
            for read in reads:
                reading.setdefault(read, set()).add(key)

    def _precedes(self, first: str, then: str) -> bool:
        """Whether lane ``first`` must be sent before lane ``then``."""
        seen, todo = set(), [then]
        while todo:
            for earlier in self._after.get(todo.pop(), ()):
                if earlier == first:
                    return True
                if earlier not in seen:
                    seen.add(earlier)
                    todo.append(earlier)
        return False

    async def _send(self, lane: str) -> None:
        for earlier in sorted(self._after.pop(lane, ())):
            if earlier in self._lanes:
                await self._send(earlier)
        for waiting in self._after.values():
            waiting.discard(lane)
        runs = self._lanes.pop(lane, [])
        self._reading.pop(lane, None)
        for run in runs:
            if len(run.rows) == 1:
                await self._conn.execute(run.sql, *run.rows[0])
            else:
                await self._conn.executemany(run.sql, run.rows)
            self.round_trips += 1

    async def flush(self) -> None:
        """Send what is still queued (each lane after the lanes it must follow)."""
        for lane in list(self._lanes):
            await self._send(lane)
            fault_point("project.batch_partly_written")  # a lane sent, maybe more to go


def _conflicts(keys: Any, key: Any) -> bool:
    """Whether statements with ``keys`` and one with ``key`` may not be reordered."""
    return bool(keys) and (key is _ANY or _ANY in keys or key in keys)


def _holds(runs: Any, key: Any) -> bool:
    return any(_conflicts(run.keys, key) for run in runs)


def _run_to_join(runs: list[_Run], sql: str, key: Any) -> _Run | None:
    """The last run of ``sql`` that no later run with a conflicting key follows."""
    for run in reversed(runs):
        if run.sql == sql:
            return run
        if _conflicts(run.keys, key):
            return None
    return None
