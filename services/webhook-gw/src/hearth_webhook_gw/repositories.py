"""The ``ApplyRepositories`` command: declare the repositories Hearth follows."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hearth_events.catalogue import RepositorySpec
from hearth_servicekit.declarations import apply_declarations
from hearth_servicekit.publishing import EventSink
from hearth_webhook_gw.registry import RepositoryRegistry


class ApplyRepositories(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repositories: list[RepositorySpec]
    prune: bool = Field(default=True, description="remove repositories no longer declared")
    dry_run: bool = False
    actor: str = "hearth"
    request_id: str | None = None


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
