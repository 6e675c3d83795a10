"""The base of every event payload and the registry that finds a class by its type name."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from hearth_events.subjects import CONTEXTS


class EventData(BaseModel):
    """The typed payload of one event: frozen, strict about unknown fields, versioned.

    Subclasses set ``context`` (the subject's context) and ``key_field`` (the field whose
    value groups the event: repo, target, device id, agent id). ``schema_version`` starts
    at 1; raising it requires an upcaster from the previous version (see ``upcasting``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    context: ClassVar[str]
    key_field: ClassVar[str]
    schema_version: ClassVar[int] = 1
    severity: ClassVar[str] = "info"

    def key(self) -> str:
        return str(getattr(self, self.key_field))

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__


_REGISTRY: dict[str, type[EventData]] = {}


class UnknownEventType(LookupError):
    """An envelope names an event type this code does not know."""


def register(cls: type[EventData]) -> type[EventData]:
    """Add an event class to the catalogue (used as a class decorator)."""
    name = cls.type_name()
    if cls.context not in CONTEXTS:
        raise TypeError(f"{name}.context {cls.context!r} is not one of {CONTEXTS}")
    if cls.key_field not in cls.model_fields:
        raise TypeError(f"{name}.key_field {cls.key_field!r} is not a field of {name}")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise TypeError(f"two event classes are named {name}")
    _REGISTRY[name] = cls
    return cls


def event_class(type_name: str) -> type[EventData]:
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise UnknownEventType(f"unknown event type {type_name!r}") from None


def registered_classes() -> dict[str, type[EventData]]:
    """The event classes registered so far, by type name (see ``all_event_classes``)."""
    return dict(sorted(_REGISTRY.items()))


def payload_schema(cls: type[EventData]) -> dict[str, Any]:
    return cls.model_json_schema()
