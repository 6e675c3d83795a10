"""The ``ApplyRepositories`` command: declare the repositories Hearth follows."""

from __future__ import annotations

from typing import Any

from hearth_events.catalogue import RepositorySpec
from hearth_events.credentials import repository_problems
from hearth_servicekit.commands import CommandRejected
from hearth_servicekit.declarations import ApplyCommand, apply_declarations
from hearth_servicekit.publishing import EventSink
from hearth_webhook_gw.registry import RepositoryRegistry


class ApplyRepositories(ApplyCommand):
    repositories: list[RepositorySpec]


async def apply_repositories(
    request: ApplyRepositories, registry: RepositoryRegistry, sink: EventSink, *, source: str
) -> dict[str, Any]:
    problems = [p for spec in request.repositories for _, p in repository_problems(spec)]
    if problems:  # a token in a URL would be in RepositoryRegistered for good
        raise CommandRejected("; ".join(problems))
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
