"""Event-sourced applications whose stored events are Hearth's catalogue events.

Every aggregate event is one ``Recorded`` event: the catalogue type name, its payload (the
pydantic model as JSON data) and the envelope metadata decided when it was recorded
(event id, correlation, causation, actor). So the relay can turn any stored event into the
exact envelope, with the same ``Nats-Msg-Id`` however often it is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import Recording
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from hearth_events import Envelope, EventData, event_class, new_event, uuid7
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


def open_application(cls: type[App], dsn: str, schema: str) -> App:
    """Create the application's schema if needed, then the application (and its tables)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Two instances starting at once would create the same tables, types and functions
        # at the same time ("tuple concurrently updated"): one at a time, per schema.
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"hearth.schema.{schema}",))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        return cls(env=postgres_env(dsn, schema))  # the lock goes with the connection


class HearthApplication(Application[UUID]):
    """An application on PostgreSQL; construct with ``env=postgres_env(dsn, schema)``."""

    is_snapshotting_enabled = False

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(env=env)
        self.schema = env["POSTGRES_SCHEMA"]

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """``Application.save`` without its runtime protocol checks: on Python 3.11 every
        ``isinstance(obj, SomeProtocol)`` walks the protocol's attributes, which cost a
        fifth of a one-event save's client time. Aggregates are collected by their class;
        anything else goes through eventsourcing's own collection."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
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
