"""The ``ApplyRepositories`` command: declare the repositories Hearth follows."""

from __future__ import annotations

from typing import Any

from hearth_events.catalogue import RepositorySpec
from hearth_servicekit.declarations import ApplyCommand, apply_declarations
from hearth_servicekit.publishing import EventSink
from hearth_webhook_gw.registry import RepositoryRegistry


class ApplyRepositories(ApplyCommand):
    repositories: list[RepositorySpec]


async def apply_repositories(
    request: ApplyRepositories, registry: RepositoryRegistry, sink: EventSink, *, source: str
) -> dict[str, Any]:
    return await apply_declarations(
        registry,
        request.repositories,
        sink,
        prune=request.prune,
        dry_run=request.dry_run,
        actor=request.actor,
        request_id=request.request_id,
        source=source,
    )
