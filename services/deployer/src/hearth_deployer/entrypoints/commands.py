"""The command server: ``hearth.cmd.target.ApplyTargets``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hearth_deployer.adapters.store import DeployerStore
from hearth_deployer.domain.target_spec import ApplyTargets
from hearth_deployer.handlers import NewestPush, apply_targets
from hearth_events import command_subject
from hearth_events.catalogue import TargetSpec
from hearth_eventstore.store import Meta
from hearth_servicekit.commands import serve_command


async def serve_target_commands(
    nc: Any,
    store: DeployerStore,
    prepare: Callable[[TargetSpec], None],
    *,
    queue: str,
    newest_push: NewestPush | None = None,
    kick: Callable[[str], Awaitable[None]] | None = None,
) -> None:
    """Serve ``ApplyTargets``; each target it changed is ``prepare``d (its tree built
    ahead), and each deployment its declaration set off is ``kick``ed into motion."""

    async def on_apply(request: ApplyTargets) -> dict[str, Any]:
        meta = Meta(actor=request.actor, correlation_id=request.request_id)
        reply = await apply_targets(request, store, meta=meta, newest_push=newest_push)
        if not request.dry_run:
            changed = {c["name"] for c in reply["changes"]}
            deploying = {d["target"] for d in reply.get("deploying", ())}
            for spec in request.targets:
                if spec.name in changed and spec.name not in deploying:
                    prepare(spec)
            for target in sorted(deploying):
                if kick is not None:
                    await kick(target)
        return reply

    await serve_command(
        nc, command_subject("target", "ApplyTargets"), ApplyTargets, on_apply, queue=queue
    )
