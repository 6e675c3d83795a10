"""Which repositories Hearth follows, rebuilt from the ``git.Repository*`` events."""

from __future__ import annotations

from hearth_events import Envelope, EventData
from hearth_events.catalogue import (
    RepositoryRegistered,
    RepositoryRemoved,
    RepositorySpec,
    RepositoryUpdated,
)
from hearth_events.subjects import event_filter

REGISTRY_SUBJECTS = [
    event_filter("git", "RepositoryRegistered"),
    event_filter("git", "RepositoryUpdated"),
    event_filter("git", "RepositoryRemoved"),
]


def _key(name: str) -> str:
    return name.lower()  # GitHub owner/name is case-insensitive


class RepositoryRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, RepositorySpec] = {}

    def apply(self, envelope: Envelope) -> None:
        self.apply_data(envelope.data)

    def apply_data(self, data: EventData) -> None:
        if isinstance(data, RepositoryRegistered | RepositoryUpdated):
            self._specs[_key(data.repo)] = data.spec
        elif isinstance(data, RepositoryRemoved):
            self._specs.pop(_key(data.repo), None)

    def get(self, name: str) -> RepositorySpec | None:
        return self._specs.get(_key(name))

    def all(self) -> list[RepositorySpec]:
        return sorted(self._specs.values(), key=lambda s: s.name)


def plan_repositories(
    registry: RepositoryRegistry, desired: list[RepositorySpec], *, prune: bool
) -> list[EventData]:
    """The events that turn the registry into ``desired``: register, update, remove."""
    names = [_key(spec.name) for spec in desired]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"repositories declared twice: {', '.join(duplicates)}")
    changes: list[EventData] = []
    for spec in desired:
        current = registry.get(spec.name)
        if current is None:
            changes.append(RepositoryRegistered(repo=spec.name, spec=spec))
        elif current != spec:
            changed = tuple(
                field
                for field in RepositorySpec.model_fields
                if getattr(current, field) != getattr(spec, field)
            )
            changes.append(RepositoryUpdated(repo=spec.name, spec=spec, changed_fields=changed))
    if prune:
        wanted = set(names)
        changes.extend(
            RepositoryRemoved(repo=spec.name)
            for spec in registry.all()
            if _key(spec.name) not in wanted
        )
    return changes
