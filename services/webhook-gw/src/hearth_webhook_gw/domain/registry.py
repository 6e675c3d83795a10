"""Which repositories Hearth follows, rebuilt from the ``git.Repository*`` events."""

from __future__ import annotations

from hearth_events.catalogue import (
    RepositoryRegistered,
    RepositoryRemoved,
    RepositorySpec,
    RepositoryUpdated,
)
from hearth_events.subjects import event_filter
from hearth_servicekit.declarations import DeclarationEvents, Declarations

REGISTRY_SUBJECTS = [
    event_filter("git", "RepositoryRegistered"),
    event_filter("git", "RepositoryUpdated"),
    event_filter("git", "RepositoryRemoved"),
]

# GitHub's owner/name is case-insensitive.
REPOSITORY_EVENTS = DeclarationEvents(
    RepositoryRegistered, RepositoryUpdated, RepositoryRemoved, "repo", case_insensitive=True
)


class RepositoryRegistry(Declarations[RepositorySpec]):
    def __init__(self) -> None:
        super().__init__(REPOSITORY_EVENTS)
