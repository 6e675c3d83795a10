"""Every reaction of the query API: events projected into the read models (``Projector``,
one module per read model in ``projections/``), and the token commands on NATS
(``hearth token create|ls|revoke`` send these as an admin).

Apply events to the read models exactly once, and rebuild them from the stream.

The stream position is stored in the same transaction as the rows an event produced, so a
redelivered or replayed event changes nothing. Events come in stream order, but not after
a crash: the events a dead instance held come back only when their ack wait runs out,
behind newer ones. So an event beyond the next position is projected only after the ones
before it, read from the stream directly; one that was removed from the stream is passed.
A rebuild empties the tables and replays the stream from its first message while live
projection waits.
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors
import nats.js.errors
from pydantic import BaseModel, ConfigDict

from hearth_events import BadEvent, Envelope, parse_event
from hearth_events.jetstream import EVENTS_STREAM
from hearth_events.subjects import event_filter
from hearth_query_api.adapters.batch import BatchWriter, Facts
from hearth_query_api.adapters.schema import READ_TABLES
from hearth_query_api.adapters.tokens import TokenError, create_token, list_tokens, revoke_token
from hearth_query_api.projections import PROJECTIONS
from hearth_servicekit import get_logger
from hearth_servicekit.commands import CommandRejected
from hearth_servicekit.consumer import stream_pending, stream_sequence
from hearth_servicekit.faults import fault_point

log = get_logger("hearth.projector")
REBUILD_BATCH = 500
READ_TIMEOUT_S = 60.0
#: Live projection takes it shared, a rebuild exclusively: with several query-api
#: instances, none may project a live event into tables another is rebuilding.
REBUILD_LOCK = 0x48454152


#: A message of a gap the stream says it has not got, though within its range, is taken
#: for deleted after this many tries (each a delivery of the batch, with the consumer's
#: backoff between them).
GAP_TRIES = 5


class GapNotReady(Exception):
    """An event between the position and a later one could not be read yet; the batch
    is to be delivered again."""


class RebuildProjections(BaseModel):
    """``hearth projections rebuild``: sent by an admin over NATS."""

    model_config = ConfigDict(extra="forbid")

    actor: str = "hearth"


class Projector:
    def __init__(self, pool: Any, js: Any = None) -> None:
        self._pool = pool
        self._js = js  # reads the events of a gap; None: trust the order of delivery
        self._lock = asyncio.Lock()
        self._facts = Facts()  # what events said once, for the projections of later ones
        self._misses: dict[int, int] = {}  # sequence -> times the stream said it had none
        self.position = 0

    async def load_position(self) -> int:
        async with self._pool.acquire() as conn:
            self.position = await conn.fetchval(
                "SELECT position FROM projection_position WHERE name = 'main'"
            )
        return self.position

    async def apply(self, envelope: Envelope, seq: int) -> bool:
        """Project one event; False if it was applied before (a redelivery)."""
        return bool(await self.apply_many([(envelope, seq)]))

    async def apply_many(self, batch: list[tuple[Envelope, int]]) -> list[tuple[Envelope, int]]:
        """Project a batch in one transaction; returns the events it had not applied before."""
        async with self._lock:
            return await self._apply_batch(batch)

    async def _apply_batch(
        self, batch: list[tuple[Envelope, int]], *, rebuilding: bool = False
    ) -> list[tuple[Envelope, int]]:
        applied = []
        async with self._pool.acquire() as conn, conn.transaction():
            if not rebuilding:
                await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", REBUILD_LOCK)
            position = await conn.fetchval(
                "SELECT position FROM projection_position WHERE name = 'main' FOR UPDATE"
            )
            # The batch's rows in few round trips, with the same result.
            writer = BatchWriter(conn, facts=self._facts)
            for envelope, seq in batch:
                if seq <= position:
                    continue
                if not rebuilding and seq > position + 1:
                    for missing in await self._gap(position, seq):
                        for project in PROJECTIONS:
                            await project(writer, *missing)
                        applied.append(missing)
                for project in PROJECTIONS:
                    await project(writer, envelope, seq)
                position = seq
                applied.append((envelope, seq))
            await writer.flush()
            await conn.execute(
                "UPDATE projection_position SET position = $1 WHERE name = 'main'", position
            )
            fault_point("project.applied_before_commit")
        self.position = position
        return applied

    async def _gap(self, position: int, seq: int) -> list[tuple[Envelope, int]]:
        """The events between the position and ``seq`` that the stream still holds.

        A message the stream says it has not got is skipped only when it is really gone:
        below the stream's first sequence (removed by its limits), or still missing after
        :data:`GAP_TRIES` deliveries (deleted on its own, by an operator). Otherwise the
        batch fails and comes back: on a cluster, a stream leader elected a moment ago can
        answer "no message" for one it has not applied yet (seen in the cluster kill test,
        which found that event missing from the read models for good)."""
        if self._js is None:
            return []
        if self._misses:  # sequences behind the position are settled: forget them
            self._misses = {s: n for s, n in self._misses.items() if s > position}
        found = []
        for missing in range(position + 1, seq):
            try:
                message = await self._js.get_msg(EVENTS_STREAM, missing)
            except nats.js.errors.NotFoundError:
                if not await self._gone(missing):
                    raise GapNotReady(
                        f"event {missing} is in the stream but could not be read yet"
                    ) from None
                log.warning("an event was removed from the stream", seq=missing)
                continue
            try:
                found.append((parse_event(message.data), missing))
            except BadEvent as exc:
                log.error("skipping an invalid event", seq=missing, reason=str(exc))
        if found:
            log.info("projected events a crashed instance held", count=len(found))
        return found

    async def _gone(self, seq: int) -> bool:
        state = (await self._js.stream_info(EVENTS_STREAM)).state
        if seq < state.first_seq:
            return True
        self._misses[seq] = self._misses.get(seq, 0) + 1
        return self._misses[seq] >= GAP_TRIES

    async def rebuild(self, js: Any) -> int:
        """Drop every read model and replay the whole stream; returns events applied."""
        async with self._lock, self._pool.acquire() as guard:
            await guard.execute("SELECT pg_advisory_lock($1)", REBUILD_LOCK)
            try:
                return await self._replay(js)
            finally:
                await guard.execute("SELECT pg_advisory_unlock($1)", REBUILD_LOCK)

    async def _replay(self, js: Any) -> int:
        last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(f"TRUNCATE {', '.join(READ_TABLES)}")
            await conn.execute("UPDATE projection_position SET position = 0")
        self.position = 0
        if last == 0:
            return 0
        # Reading and parsing the next batch overlaps writing this one.
        batches: asyncio.Queue[Batch | Exception | None] = asyncio.Queue(maxsize=2)
        reader = asyncio.create_task(_read_stream(js, last, batches))
        applied = 0
        try:
            while (batch := await batches.get()) is not None:
                if isinstance(batch, Exception):
                    raise batch
                applied += len(await self._apply_batch(batch, rebuilding=True))
        finally:
            reader.cancel()
        log.info("projections rebuilt", events=applied, last_seq=last)
        return applied


Batch = list[tuple[Envelope, int]]


async def _read_stream(
    js: Any, last: int, batches: asyncio.Queue[Batch | Exception | None]
) -> None:
    """The stream up to ``last`` in batches of parsed events, then None (or the error)."""
    try:
        await _read_batches(js, last, batches)
    except Exception as exc:
        await batches.put(exc)
    else:
        await batches.put(None)


async def _read_batches(
    js: Any, last: int, batches: asyncio.Queue[Batch | Exception | None]
) -> None:
    """The stream ends for the rebuild at ``last``, or sooner where the messages up to it
    were removed: when the consumer has nothing pending. Silence is never taken for the
    end (a loaded cluster after a leader change can be slow to deliver): past
    ``READ_TIMEOUT_S`` without a message, the rebuild fails rather than stop short."""
    subscription = await js.subscribe(event_filter(), ordered_consumer=True)
    batch: Batch = []
    seq, pending = 0, 1
    try:
        while seq < last and pending > 0:
            try:
                message = await subscription.next_msg(timeout=READ_TIMEOUT_S)
            except nats.errors.TimeoutError:
                raise RebuildStalled(
                    f"the stream sent nothing for {READ_TIMEOUT_S:.0f} s at sequence {seq} "
                    f"of {last}; the read models are incomplete: rebuild again"
                ) from None
            seq, pending = stream_sequence(message), stream_pending(message)
            try:
                batch.append((parse_event(message.data), seq))
            except BadEvent as exc:
                log.error("skipping an invalid event", seq=seq, reason=str(exc))
            if len(batch) >= REBUILD_BATCH:
                await batches.put(batch)
                batch = []
        await batches.put(batch)
    finally:
        await subscription.unsubscribe()


class RebuildStalled(CommandRejected):
    """The stream stopped sending before the rebuild reached its end (a refusal the admin
    reads: the rebuild is to be run again)."""


# -- token commands -------------------------------------------------------------------
class CreateToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    role: str
    actor: str = "hearth"


class ListTokens(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RevokeToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


async def create_api_token(pool: Any, request: CreateToken) -> dict[str, Any]:
    async with pool.acquire() as conn:
        try:
            token = await create_token(conn, request.name, request.role, request.actor)
        except TokenError as exc:
            raise CommandRejected(str(exc)) from None
    return {
        "name": request.name,
        "role": request.role,
        "token": token,
        "note": "shown once: store it now",
    }


async def list_api_tokens(pool: Any, _: ListTokens) -> dict[str, Any]:
    async with pool.acquire() as conn:
        tokens = await list_tokens(conn)
    return {
        "tokens": [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in t.items()}
            for t in tokens
        ]
    }


async def revoke_api_token(pool: Any, request: RevokeToken) -> dict[str, Any]:
    async with pool.acquire() as conn:
        revoked = await revoke_token(conn, request.name)
    if revoked is None:
        raise CommandRejected(f"no active token named {request.name!r}")
    return {"name": request.name, "revoked_at": revoked.isoformat()}
