"""Event-sourced applications whose stored events are Hearth's catalogue events.

Every aggregate event is one ``Recorded`` event: the catalogue type name, its payload (the
pydantic model as JSON data) and the envelope metadata decided when it was recorded
(event id, correlation, causation, actor). So the relay can turn any stored event into the
exact envelope, with the same ``Nats-Msg-Id`` however often it is sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import Recording
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from hearth_events import Envelope, EventData, event_class, new_event, uuid7
from hearth_eventstore.own_copies import OwnCopies, private_copy
from hearth_servicekit.redaction import redact_value


@dataclass(frozen=True)
class Meta:
    """Who and what caused the events a command records."""

    actor: str
    correlation_id: str | None = None
    causation_id: str | None = None


class HearthAggregate(Aggregate):
    class Recorded(Aggregate.Event):
        type_name: str
        payload: dict[str, Any]
        event_id: str
        correlation_id: str | None
        causation_id: str | None
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, HearthAggregate)
            aggregate.when(self.data())

        def data(self) -> EventData:
            return event_class(self.type_name).model_validate(self.payload)

    def record(self, data: EventData, meta: Meta) -> None:
        """Record a catalogue event on this aggregate (and apply it). Every secret value
        this process has decrypted is redacted from the payload here, the one door every
        stored event passes (the relay publishes what was stored)."""
        self.trigger_event(
            self.Recorded,
            type_name=data.type_name(),
            payload=redact_value(data.model_dump(mode="json")),
            event_id=str(uuid7()),
            correlation_id=meta.correlation_id,
            causation_id=meta.causation_id,
            actor=meta.actor,
        )

    def when(self, data: EventData) -> None:
        """Change state for one event; subclasses dispatch on the event's type."""


def postgres_env(dsn: str, schema: str) -> dict[str, str]:
    """eventsourcing's settings for a PostgreSQL DSN, in its own schema."""
    parts = urlsplit(dsn)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": schema,
        "CREATE_TABLE": "y",
        # One round trip per save, through a function that keeps the table lock.
        "APPLICATION_RECORDER_TOPIC": "hearth_eventstore.recorder:HearthRecorder",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
    }


App = TypeVar("App", bound="HearthApplication")
T = TypeVar("T")


def open_application(cls: type[App], dsn: str, schema: str) -> App:
    """Create the application's schema if needed, then the application (and its tables)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Two instances starting at once would create the same tables, types and functions
        # at the same time ("tuple concurrently updated"): one at a time, per schema.
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"hearth.schema.{schema}",))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        return cls(env=postgres_env(dsn, schema))  # the lock goes with the connection


class BatchRefused(Exception):
    """A call of a batch raised, or saved something a batch cannot hold: nothing of the
    batch was saved; each call is to be run again on its own."""


@dataclass
class _Batch:
    #: Every aggregate a call of the batch read or saved, so the next call reads it as the
    #: earlier ones left it.
    seen: dict[UUID, Any] = field(default_factory=dict)
    #: The events the calls recorded, in the order they saved them, and their aggregates.
    events: list[Any] = field(default_factory=list)
    aggregates: dict[UUID, Any] = field(default_factory=dict)


class HearthApplication(Application[UUID]):
    """An application on PostgreSQL; construct with ``env=postgres_env(dsn, schema)``.

    :meth:`run_batch` runs several command methods in one transaction. Command methods
    read aggregates with :meth:`_get` and store them with :meth:`save`, as always."""

    is_snapshotting_enabled = False

    #: Aggregates of these classes are read by writes (:meth:`run_batch`,
    #: :meth:`run_one`) as this process last saved them, kept as private copies, instead
    #: of asking the store for newer events first: one ``SELECT`` less per aggregate a
    #: write reads, the longest part of a write on a busy machine. A copy another writer
    #: got ahead of cannot be saved over (its events' versions are taken:
    #: ``IntegrityError``); the copies the write read are dropped then, and
    #: :class:`.writes.Writes` runs it again on what is stored. Reads outside writes
    #: always ask the store. Only for classes whose command methods save what they
    #: decide from, or decide only on what a copy that is behind cannot get wrong.
    own_copies_of: tuple[type, ...] = ()

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(env=env)
        self.schema = env["POSTGRES_SCHEMA"]
        # A batch runs in one thread; reads in other threads do not see it.
        self._batches = threading.local()
        self._own = OwnCopies()

    def _get(self, aggregate_id: UUID) -> Any:
        """The aggregate, or None when it does not exist; inside a batch, as the batch's
        earlier calls left it."""
        batch: _Batch | None = getattr(self._batches, "batch", None)
        if batch is not None and aggregate_id in batch.seen:
            return batch.seen[aggregate_id]
        writing: dict[UUID, Any] | None = getattr(self._batches, "writing", None)
        if writing is not None and aggregate_id in writing:
            return writing[aggregate_id]
        found: Any = None
        if self.own_copies_of and (batch is not None or writing is not None):
            found = self._own.take(aggregate_id)
        if found is None:
            found = self._from_store(aggregate_id)
            if found is None:
                return None
        if batch is not None:
            batch.seen[aggregate_id] = found
        elif writing is not None:
            writing[aggregate_id] = found
        return found

    def _from_store(self, aggregate_id: UUID) -> Any:
        """The aggregate as stored (brought up to date from the cache when it holds it),
        as a copy of the caller's own; None when it does not exist. A cached aggregate is
        copied through pickle (:func:`.own_copies.private_copy`), not eventsourcing's
        ``copy.deepcopy``: the deployer reads its target book of twenty declarations at
        every deployment, 0.28 ms a deep copy against 0.12 through pickle."""
        cached = self.repository.cache is not None
        try:
            found: Any = self.repository.get(aggregate_id, deepcopy_from_cache=not cached)
        except AggregateNotFoundError:
            return None
        return private_copy(found) if cached else found

    def run_one(self, call: Callable[[], T]) -> T:
        """Run one command method as a write (see :attr:`own_copies_of`); its result, or
        what it raised. An aggregate it reads twice is the same object both times, as in
        a batch: what the first read changed and has not saved yet is in the second."""
        self._batches.writing = {}
        try:
            return call()
        finally:
            self._batches.writing = None

    def run_batch(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        """Run ``calls`` in order, each seeing what the earlier ones changed, and save all
        they recorded in one transaction, in the order they saved it: as the calls one
        after another would have, with one commit instead of one each. Their results.
        :class:`BatchRefused` when a call raises: nothing is saved then."""
        batch = _Batch()
        self._batches.batch = batch
        try:
            results = []
            for call in calls:
                try:
                    results.append(call())
                except Exception as exc:
                    raise BatchRefused(str(exc)) from exc
        finally:
            self._batches.batch = None
        if batch.events:
            try:
                self._save_events(batch.events, batch.aggregates)
            except BaseException:
                self._own.drop(batch.seen)
                raise
            self._keep_own(batch.aggregates.values())
        return results

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """``Application.save`` without its runtime protocol checks: on Python 3.11 every
        ``isinstance(obj, SomeProtocol)`` walks the protocol's attributes, which cost a
        fifth of a one-event save's client time. Aggregates are collected by their class;
        anything else goes through eventsourcing's own collection. Inside a batch, the
        aggregates' events are kept for the batch's one save."""
        batch: _Batch | None = getattr(self._batches, "batch", None)
        if batch is not None:
            self._keep(batch, objs, kwargs)
            return []
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        writing: dict[UUID, Any] | None = getattr(self._batches, "writing", None)
        saved = processing_event.aggregates
        try:
            recordings = self._save_processing(processing_event)
        except BaseException:
            self._own.drop({*saved, *(writing or ())})
            raise
        if writing is not None:
            self._keep_own(saved.values())
        else:  # saved outside a write: a kept copy would be behind it
            self._own.drop(saved)
        return recordings

    def _keep_own(self, aggregates: Iterable[Any]) -> None:
        if self.own_copies_of:
            self._own.keep(a for a in aggregates if isinstance(a, self.own_copies_of))

    def keep_own(self, aggregate: Any) -> None:
        """For a write that read ``aggregate`` (taking this process's copy, see
        :attr:`own_copies_of`) and did not change it: keep a copy of it again. Only an
        aggregate with nothing unsaved (it is as the store, or this process, last had it)."""
        if aggregate.pending_events:
            raise ValueError("keep_own: the aggregate has events not saved")
        self._keep_own([aggregate])

    @staticmethod
    def _keep(batch: _Batch, objs: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        if kwargs or not all(obj is None or isinstance(obj, Aggregate) for obj in objs):
            raise BatchRefused("only aggregates are saved in a batch")
        for obj in objs:
            if obj is not None:
                batch.events.extend(obj.collect_events())
                batch.aggregates[obj.id] = obj
                batch.seen[obj.id] = obj

    def _save_events(self, events: list[Any], aggregates: dict[UUID, Any]) -> None:
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        processing_event.events.extend(events)
        processing_event.aggregates.update(aggregates)
        self._save_processing(processing_event)

    def _save_processing(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated in eventsourcing, kept alike
        return recordings

    @property
    def notify_channel(self) -> str:
        """The channel the recorder NOTIFYs inside every insert's transaction."""
        recorder = self.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)
        return recorder.channel_name


def to_envelope(recorded: HearthAggregate.Recorded, source: str) -> Envelope:
    return new_event(
        recorded.data(),
        source=source,
        actor=recorded.actor,
        correlation_id=recorded.correlation_id,
        causation_id=recorded.causation_id,
        aggregate_id=str(recorded.originator_id),
        aggregate_version=recorded.originator_version,
        event_id=UUID(recorded.event_id),
        occurred_at=recorded.timestamp,
    )
