"""Hearth's event catalogue: the contract between the services.

Pure: besides helpers that take a client, nothing here does I/O.
"""

from hearth_events import catalogue
from hearth_events.base import EventData, UnknownEventType, event_class
from hearth_events.catalogue import all_event_classes
from hearth_events.envelope import (
    HEADER_CORRELATION_ID,
    HEADER_EVENT_TYPE,
    HEADER_MSG_ID,
    HEADER_SCHEMA_VERSION,
    BadEvent,
    Envelope,
    OutgoingMessage,
    new_event,
    parse_event,
    to_message,
)
from hearth_events.ids import derived_event_id, uuid7
from hearth_events.subjects import (
    command_subject,
    escape_token,
    event_filter,
    event_subject,
    parse_event_subject,
    unescape_token,
)

__all__ = [
    "HEADER_CORRELATION_ID",
    "HEADER_EVENT_TYPE",
    "HEADER_MSG_ID",
    "HEADER_SCHEMA_VERSION",
    "BadEvent",
    "Envelope",
    "EventData",
    "OutgoingMessage",
    "UnknownEventType",
    "all_event_classes",
    "catalogue",
    "command_subject",
    "derived_event_id",
    "escape_token",
    "event_class",
    "event_filter",
    "event_subject",
    "new_event",
    "parse_event",
    "parse_event_subject",
    "to_message",
    "unescape_token",
    "uuid7",
]
