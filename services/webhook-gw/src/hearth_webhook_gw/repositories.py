"""The ``ApplyRepositories`` command: declare the repositories Hearth follows."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hearth_events import new_event
from hearth_events.catalogue import RepositorySpec
from hearth_servicekit.commands import CommandRejected
from hearth_webhook_gw.intake import BusUnavailable, EventSink
from hearth_webhook_gw.registry import RepositoryRegistry, plan_repositories


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
    try:
        changes = plan_repositories(registry, request.repositories, prune=request.prune)
    except ValueError as exc:
        raise CommandRejected(str(exc)) from None
    summary = {
        "changes": [{"type": c.type_name(), "repo": c.key()} for c in changes],
        "dry_run": request.dry_run,
    }
    if request.dry_run:
        return summary
    correlation: str | None = request.request_id
    for change in changes:
        envelope = new_event(change, source=source, actor=request.actor, correlation_id=correlation)
        correlation = envelope.correlation_id
        try:
            await sink.publish(envelope)
        except BusUnavailable:
            raise CommandRejected(
                "the event bus did not acknowledge; nothing after "
                f"{change.type_name()} {change.key()} was applied — run the command again"
            ) from None
        registry.apply_data(change)
    return summary
