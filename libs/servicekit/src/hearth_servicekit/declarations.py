"""Things declared in ``hearth.yaml`` (repositories, targets, routes) and their events.

A service that owns a kind of declaration keeps a registry rebuilt from its
``<Kind>Registered/Updated/Removed`` events, and turns an ``Apply<Kinds>`` command into
the events that make the registry equal to the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from hearth_events import Envelope, EventData, new_event
from hearth_servicekit.commands import CommandRejected
from hearth_servicekit.publishing import BusUnavailable, EventSink

Spec = TypeVar("Spec", bound=BaseModel)


def _name_of(spec: BaseModel) -> str:
    """Every declared spec has a ``name`` field."""
    return str(spec.name)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DeclarationEvents:
    """The three event classes of one kind and the field that names the thing."""

    registered: type[EventData]
    updated: type[EventData]
    removed: type[EventData]
    name_field: str
    case_insensitive: bool = False


class Declarations(Generic[Spec]):
    def __init__(self, events: DeclarationEvents) -> None:
        self.events = events
        self._specs: dict[str, Spec] = {}
        self.revision = 0  # rises with every change, for caches derived from the specs

    def _key(self, name: str) -> str:
        return name.lower() if self.events.case_insensitive else name

    def apply(self, envelope: Envelope) -> None:
        self.apply_data(envelope.data)

    def apply_data(self, data: EventData) -> None:
        name = getattr(data, self.events.name_field, None)
        if name is None:
            return
        if isinstance(data, self.events.registered | self.events.updated):
            self._specs[self._key(name)] = data.spec  # type: ignore[attr-defined]
            self.revision += 1
        elif isinstance(data, self.events.removed):
            self._specs.pop(self._key(name), None)
            self.revision += 1

    def get(self, name: str) -> Spec | None:
        return self._specs.get(self._key(name))

    def all(self) -> list[Spec]:
        return sorted(self._specs.values(), key=_name_of)

    def plan(self, desired: list[Spec], *, prune: bool) -> list[EventData]:
        """The events that turn this registry into ``desired``."""
        names = [self._key(_name_of(s)) for s in desired]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"declared twice: {', '.join(duplicates)}")
        field = self.events.name_field
        changes: list[EventData] = []
        for spec in desired:
            name = _name_of(spec)
            current = self.get(name)
            if current is None:
                changes.append(self.events.registered.model_validate({field: name, "spec": spec}))
            elif current != spec:
                changed = tuple(
                    f for f in type(spec).model_fields if getattr(current, f) != getattr(spec, f)
                )
                changes.append(
                    self.events.updated.model_validate(
                        {field: name, "spec": spec, "changed_fields": changed}
                    )
                )
        if prune:
            wanted = set(names)
            changes.extend(
                self.events.removed.model_validate({field: _name_of(s)})
                for s in self.all()
                if self._key(_name_of(s)) not in wanted
            )
        return changes


class ApplyCommand(BaseModel):
    """What every ``Apply<Kinds>`` command carries beside the declarations themselves."""

    model_config = ConfigDict(extra="forbid")

    prune: bool = Field(default=True, description="remove what is no longer declared")
    dry_run: bool = False
    actor: str = "hearth"
    request_id: str | None = None


def planned_changes(
    declarations: Declarations[Any], desired: list[Any], *, prune: bool
) -> list[EventData]:
    """``declarations.plan``, with a declaration mistake refused as the command's answer."""
    try:
        return declarations.plan(desired, prune=prune)
    except ValueError as exc:
        raise CommandRejected(str(exc)) from None


def change_summary(changes: list[EventData], *, dry_run: bool) -> dict[str, Any]:
    """The reply of an ``Apply<Kinds>`` command."""
    return {
        "changes": [{"type": c.type_name(), "name": c.key()} for c in changes],
        "dry_run": dry_run,
    }


async def apply_declarations(
    declarations: Declarations[Any],
    desired: list[Any],
    sink: EventSink,
    request: ApplyCommand,
    *,
    source: str,
) -> dict[str, Any]:
    """Apply ``request``'s ``desired`` declarations (pruned, or only planned, as it says):
    publish the planned events one by one; the registry follows each acknowledged one."""
    changes = planned_changes(declarations, desired, prune=request.prune)
    summary = change_summary(changes, dry_run=request.dry_run)
    if request.dry_run:
        return summary
    correlation = request.request_id
    for change in changes:
        envelope = new_event(change, source=source, actor=request.actor, correlation_id=correlation)
        correlation = envelope.correlation_id
        try:
            await sink.publish(envelope)
        except BusUnavailable:
            raise CommandRejected(
                f"the event bus did not acknowledge; {change.type_name()} {change.key()} and "
                "what follows were not applied — run the command again"
            ) from None
        declarations.apply_data(change)
    return summary
