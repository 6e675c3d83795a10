"""The envelope every event travels in, and its mapping to and from NATS messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator

from hearth_events.base import EventData, UnknownEventType, event_class
from hearth_events.ids import uuid7
from hearth_events.subjects import event_subject
from hearth_events.upcasting import SchemaVersionError, upcast

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_EVENT_TYPE = "Hearth-Event-Type"
HEADER_SCHEMA_VERSION = "Hearth-Schema-Version"
HEADER_CORRELATION_ID = "Hearth-Correlation-Id"


class Envelope(BaseModel):
    """One event: who, what, when, why, and the typed payload in ``data``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    type: str
    schema_version: int = Field(ge=1)
    occurred_at: datetime
    source: str
    key: str
    aggregate_id: str | None = None
    aggregate_version: int | None = None
    correlation_id: str
    causation_id: str | None = None
    actor: str
    data: SerializeAsAny[EventData]

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a timezone (UTC)")
        return value.astimezone(UTC)

    @property
    def subject(self) -> str:
        return event_subject(self.data.context, self.type, self.key)

    def headers(self) -> dict[str, str]:
        return {
            HEADER_MSG_ID: str(self.event_id),
            HEADER_EVENT_TYPE: self.type,
            HEADER_SCHEMA_VERSION: str(self.schema_version),
            HEADER_CORRELATION_ID: self.correlation_id,
        }

    def to_json(self) -> bytes:
        """``model_dump_json()`` as UTF-8, straight from the serializer (no str between)."""
        return self.__pydantic_serializer__.to_json(self)


def new_event(
    data: EventData,
    *,
    source: str,
    actor: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    aggregate_id: str | None = None,
    aggregate_version: int | None = None,
    event_id: UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Wrap a payload. An event that starts a chain correlates with itself."""
    event_id = event_id or uuid7()
    return Envelope(
        event_id=event_id,
        type=data.type_name(),
        schema_version=data.schema_version,
        occurred_at=occurred_at or datetime.now(UTC),
        source=source,
        key=data.key(),
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        correlation_id=correlation_id or str(event_id),
        causation_id=causation_id,
        actor=actor,
        data=data,
    )


class BadEvent(ValueError):
    """A message that is not a valid Hearth event; the text says why."""


def parse_event(payload: bytes | str | Mapping[str, Any]) -> Envelope:
    """Parse an envelope, upcasting its data to the current schema version."""
    try:
        raw: Any = json.loads(payload) if isinstance(payload, bytes | str) else dict(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadEvent(f"event payload is not UTF-8 JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise BadEvent("event payload must be a JSON object")
    type_name, version, data = raw.get("type"), raw.get("schema_version"), raw.get("data")
    if not isinstance(type_name, str) or not isinstance(version, int):
        raise BadEvent("event payload needs a string 'type' and an integer 'schema_version'")
    if not isinstance(data, dict):
        raise BadEvent(f"{type_name}: 'data' must be a JSON object")
    try:
        cls = event_class(type_name)
        data = upcast(type_name, version, data, cls.schema_version)
        typed = cls.model_validate(data)
        return Envelope.model_validate({**raw, "schema_version": cls.schema_version, "data": typed})
    except (UnknownEventType, SchemaVersionError) as exc:
        raise BadEvent(str(exc)) from None
    except ValidationError as exc:
        raise BadEvent(f"{type_name} is invalid: {_first_errors(exc)}") from None


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in exc.errors()[:limit]
    ]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


@dataclass(frozen=True)
class OutgoingMessage:
    subject: str
    payload: bytes
    headers: dict[str, str]


def to_message(envelope: Envelope) -> OutgoingMessage:
    return OutgoingMessage(envelope.subject, envelope.to_json(), envelope.headers())
