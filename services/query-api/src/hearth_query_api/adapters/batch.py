"""A batch's projection statements in as few round trips as their order allows.

The projections write as if each statement ran at once (``execute``/``executemany``, the
asyncpg calls); :class:`BatchWriter` queues them instead, one lane per table written, and
sends each run of the same statement in a lane as one ``executemany`` (pipelined by
asyncpg). The result is the one the statements give in event order, because a lane is
sent early whenever the order could show:

- before a statement that reads table T (``FROM T``) is queued, T's lane is sent, so it
  sees every earlier write to T and no later one;
- before a statement that writes T is queued, every lane holding a reader of T is sent,
  so no reader sees a later write.

Statements within a lane keep their order. Everything runs inside the caller's
transaction, which also stores the stream position: a crash anywhere in a batch leaves
nothing of it.

What stays serial is what tables share: a deployment's request time reads its steps (a
rollback's request is a step), and a target's last deployment reads whether it was a dry
run, so those lanes go once per deployment (about 5.5 round trips per deployment of ~11
events). Going further needs row-level order (statements on different rows commute) or
set-based statements per run; tables alone cannot tell.
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


class BatchWriter:
    def __init__(self, conn: Any, tables: tuple[str, ...] = READ_TABLES) -> None:
        self._conn = conn
        self._tables = tables
        self._lanes: dict[str, list[tuple[str, Rows]]] = {}
        self._reading: dict[str, set[str]] = {}  # lane -> tables its queued statements read
        self.round_trips = 0

    async def execute(self, sql: str, *args: Any) -> None:
        await self._queue(sql, [args])

    async def executemany(self, sql: str, rows: Any) -> None:
        rows = [tuple(row) for row in rows]
        if rows:
            await self._queue(sql, rows)

    async def _queue(self, sql: str, rows: Rows) -> None:
        table, reads = tables_of(sql, self._tables)
        for read in reads:
            await self._send(read)
        for lane, reading in list(self._reading.items()):
            if lane != table and table in reading:
                await self._send(lane)
        runs = self._lanes.setdefault(table, [])
        if runs and runs[-1][0] == sql:
            runs[-1][1].extend(rows)
        else:
            runs.append((sql, rows))
        self._reading.setdefault(table, set()).update(reads)

    async def _send(self, lane: str) -> None:
        runs = self._lanes.pop(lane, [])
        self._reading.pop(lane, None)
        for sql, rows in runs:
            if len(rows) == 1:
                await self._conn.execute(sql, *rows[0])
            else:
                await self._conn.executemany(sql, rows)
            self.round_trips += 1

    async def flush(self) -> None:
        """Send what is still queued (lanes left are independent of each other)."""
        for lane in list(self._lanes):
            await self._send(lane)
            fault_point("project.batch_partly_written")  # a lane sent, maybe more to go
