"""The deployer's reactions to events on the bus (pushes, CI results, requests, cancels)
and to the ``ApplyTargets`` command.

Each handler stores what it decided before the message is acknowledged, then lets the
dispatcher run the work; a redelivered message finds its deployment stored and changes
nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from uuid import uuid5

from hearth_deployer.adapters.dispatcher import Dispatcher
from hearth_deployer.adapters.store import DeployerApplication, DeployerStore, Queued, ToQueue
from hearth_deployer.domain import NAMESPACE, TargetLine
from hearth_deployer.domain.paths import is_ignored
from hearth_deployer.domain.pushes import starts_from_a_push
from hearth_deployer.domain.target_spec import ApplyTargets, check_target
from hearth_events import Envelope
from hearth_events.catalogue import (
    CiCompleted,
    DeploymentCancelled,
    DeploymentCancelRequested,
    DeployRequested,
    PushReceived,
    RepositorySpec,
    RollbackRequested,
    TargetRegistered,
    TargetSpec,
    TargetUpdated,
)
from hearth_eventstore.store import Meta
from hearth_servicekit import get_logger
from hearth_servicekit.commands import CommandRejected
from hearth_servicekit.declarations import change_summary, planned_changes

log = get_logger("hearth.deployer")


def push_deployment_id(push_event_id: str, target: str) -> str:
    """The same push always asks for the same deployment of a target (redeliveries)."""
    return str(uuid5(NAMESPACE, f"push:{push_event_id}:{target}"))


def touches_subdirectory(push: PushReceived, subdirectory: str) -> bool:
    sub = subdirectory.strip("/")
    if not sub or not push.commits or push.commits_truncated:
        return True  # unknown: deploy, and let the plan find out what changed
    paths = [p for c in push.commits for p in (*c.added, *c.modified, *c.removed)]
    return any(is_ignored(p, (f"{sub}/",)) for p in paths)


def fed_by(spec: TargetSpec, repo: str, repository: Callable[[str], RepositorySpec | None]) -> bool:
    """Whether ``repo`` (as a push or CI result names it: full name or URL) feeds ``spec``.

    Names compare without case, as repository declarations do (GitHub's ``owner/name`` is
    case-insensitive: a webhook says ``Alice/Home`` for a target fed by ``alice/home``)."""
    declared = repository(spec.repo)
    return repo.lower() == spec.repo.lower() or (declared is not None and repo == declared.url)


def targets_for_push(
    push: PushReceived,
    targets: list[TargetSpec],
    repository: Callable[[str], RepositorySpec | None],
) -> list[TargetSpec]:
    if push.branch is None or push.deleted:
        return []  # tags and branch deletions are recorded, and trigger nothing
    return [
        t
        for t in targets
        if t.auto_deploy
        and t.branch == push.branch
        and fed_by(t, push.repo, repository)
        and touches_subdirectory(push, t.subdirectory)
    ]


async def all_of(calls: Iterable[Awaitable[None]]) -> None:
    """Await the calls together; once all have ended, raise the first one's error (the
    message comes back, and what was queued is not queued twice)."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def push_announcement(
    deployment_id: str, spec: TargetSpec, commit: str, branch: str | None
) -> DeployRequested:
    return DeployRequested(
        deployment_id=deployment_id,
        target=spec.name,
        repo=spec.repo,
        commit=commit,
        branch=branch,
        trigger="push",
    )


def push_deployment(spec: TargetSpec, envelope: Envelope) -> ToQueue:
    """The deployment a push (``envelope``) asks of ``spec``: the same one whichever path
    asks, the push's own handling or a target declared after it."""
    push = envelope.data
    assert isinstance(push, PushReceived)
    deployment_id = push_deployment_id(str(envelope.event_id), spec.name)
    causation, correlation = str(envelope.event_id), envelope.correlation_id
    request = {
        "commit": push.after,
        "branch": push.branch,
        "trigger": "push",
        "repo": spec.repo,
        "correlation_id": correlation,
        "causation_id": causation,
        "requested_by": envelope.actor,
    }
    meta = Meta(actor=envelope.actor, correlation_id=correlation, causation_id=causation)
    announce = push_announcement(deployment_id, spec, push.after, push.branch)
    return ToQueue(deployment_id, spec.name, "deploy", request, meta, announce)


#: This service's name: the first part of its events' ``source`` (``deployer/<instance>``).
SERVICE = "deployer"


class DeployerHandlers:
    def __init__(
        self,
        store: DeployerStore,
        dispatcher: Dispatcher,
        repository: Callable[[str], RepositorySpec | None],
        actor: str = "deployer",
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.repository = repository
        self.actor = actor

    @property
    def app(self) -> Any:
        return self.store.app

    async def handle(self, envelope: Envelope) -> None:
        data = envelope.data
        if isinstance(data, PushReceived):
            await self.on_push(data, envelope)
        elif isinstance(data, CiCompleted):
            await self.on_ci(data, envelope)
        elif isinstance(data, DeployRequested):
            await self.on_deploy_requested(data, envelope)
        elif isinstance(data, RollbackRequested):
            await self.on_rollback_requested(data, envelope)
        elif isinstance(data, DeploymentCancelRequested):
            await self.on_cancel_requested(data, envelope)

    def _meta(self, envelope: Envelope) -> Meta:
        return Meta(
            actor=self.actor,
            correlation_id=envelope.correlation_id,
            causation_id=str(envelope.event_id),
        )

    def _request(self, envelope: Envelope, **fields: Any) -> dict[str, Any]:
        return {
            **fields,
            "correlation_id": envelope.correlation_id,
            "causation_id": str(envelope.event_id),
            "requested_by": envelope.actor,
        }

    async def _queue(
        self,
        deployment_id: str,
        target: str,
        *,
        kind: str,
        request: dict[str, Any],
        envelope: Envelope,
        announce: DeployRequested | None,
    ) -> None:
        meta = Meta(
            actor=envelope.actor if announce is not None else self.actor,
            correlation_id=envelope.correlation_id,
            causation_id=str(envelope.event_id),
        )
        await self.enqueue(ToQueue(deployment_id, target, kind, request, meta, announce))

    async def enqueue(self, item: ToQueue) -> None:
        queued = await self.store.write(
            self.app.queue_deployment,
            item.deployment_id,
            item.target,
            kind=item.kind,
            request=item.request,
            meta=item.meta,
            announce=item.announce,
        )
        self.log_queued(item, queued)
        await self.dispatcher.kick(item.target, queued.line)

    @staticmethod
    def log_queued(item: ToQueue, queued: Queued) -> None:
        if queued.created:
            log.info(
                "deployment queued",
                target=item.target,
                deployment_id=item.deployment_id,
                kind=item.kind,
            )
        if queued.superseded:
            log.info("deployment superseded", target=item.target, deployment_id=queued.superseded)

    # -- pushes and CI ---------------------------------------------------------------
    async def on_push(self, push: PushReceived, envelope: Envelope) -> None:
        """Queue the push on every target it feeds, all at once: their writes share a
        transaction and their runs start together (one after another, the twentieth of a
        fan-out began a second after the first)."""
        targets = await self.store.read(self.app.targets)
        fed = targets_for_push(push, targets, self.repository)
        await all_of(self._push_to(spec, push, envelope) for spec in fed)

    async def _push_to(self, spec: TargetSpec, push: PushReceived, envelope: Envelope) -> None:
        item = push_deployment(spec, envelope)
        if spec.require_ci:
            line: TargetLine = await self.store.read(self.app.line, spec.name)
            if line.ci_results.get(push.after) != "success":
                request = {**item.request, "deployment_id": item.deployment_id}
                await self.store.write(self.app.await_ci, spec.name, push.after, request)
                log.info("push waits for CI", target=spec.name, commit=push.after)
                return
        await self.enqueue(item)

    async def _queue_push(
        self, deployment_id: str, spec: TargetSpec, request: dict[str, Any], envelope: Envelope
    ) -> None:
        await self._queue(
            deployment_id,
            spec.name,
            kind="deploy",
            request=request,
            envelope=envelope,
            announce=push_announcement(deployment_id, spec, request["commit"], request["branch"]),
        )

    async def on_ci(self, ci: CiCompleted, envelope: Envelope) -> None:
        targets = await self.store.read(self.app.targets)
        for spec in targets:
            if not spec.require_ci or not fed_by(spec, ci.repo, self.repository):
                continue
            released = await self.store.write(
                self.app.ci_finished, spec.name, ci.commit, ci.conclusion
            )
            if released is not None:
                request = {k: v for k, v in released.items() if k != "deployment_id"}
                await self._queue_push(released["deployment_id"], spec, request, envelope)
            elif ci.conclusion != "success":
                log.info("CI did not pass; not deploying", target=spec.name, commit=ci.commit)

    # -- requests from people --------------------------------------------------------
    async def on_deploy_requested(self, data: DeployRequested, envelope: Envelope) -> None:
        if envelope.source.partition("/")[0] == SERVICE and envelope.aggregate_id is not None:
            # Our own announcement back from the bus: a deployer stored it (its relay names
            # the aggregate) in the save that queued its deployment, and kicked the target.
            # Queueing it again changed nothing, and cost a write per deployment in the
            # writer every deployment's steps wait on. (The drift timer's requests are
            # published, not stored: they are queued here.)
            return
        if data.trigger == "schedule":  # a timed drift check never pushes real work aside
            line = await self.store.read(self.app.line, data.target)
            if line.active is not None or line.waiting is not None:
                log.info("scheduled check skipped: the target is busy", target=data.target)
                return
        request = self._request(
            envelope,
            commit=data.commit,
            branch=data.branch,
            trigger=data.trigger,
            dry_run=data.dry_run,
            repo=data.repo,
            full_check=data.full_check,
        )
        await self._queue(
            data.deployment_id,
            data.target,
            kind="deploy",
            request=request,
            envelope=envelope,
            announce=None,
        )

    async def on_rollback_requested(self, data: RollbackRequested, envelope: Envelope) -> None:
        spec = await self.store.read(self.app.target, data.target)
        if spec is None:
            log.warning("rollback of an unknown target ignored", target=data.target)
            return
        kind = "deploy" if data.to_commit else "restore"
        request = self._request(
            envelope,
            commit=data.to_commit,
            trigger="rollback",
            repo=spec.repo,
            backup_id=data.to_backup,
            reason=data.reason,
        )
        announce = DeployRequested(
            deployment_id=data.deployment_id,
            target=data.target,
            repo=spec.repo,
            commit=data.to_commit,
            trigger="rollback",
        )
        await self._queue(
            data.deployment_id,
            data.target,
            kind=kind,
            request=request,
            envelope=envelope,
            announce=announce,
        )

    async def on_cancel_requested(
        self, data: DeploymentCancelRequested, envelope: Envelope
    ) -> None:
        reason = data.reason or f"cancelled by {envelope.actor}"
        cancelled = DeploymentCancelled(
            deployment_id=data.deployment_id, target=data.target, reason=reason
        )
        if await self.store.write(
            self.app.cancel_waiting, data.deployment_id, cancelled, self._meta(envelope)
        ):
            log.info("waiting deployment cancelled", deployment_id=data.deployment_id)
            return
        deployment = await self.store.read(self.app.deployment, data.deployment_id)
        if deployment is None or deployment.terminal is not None:
            return
        await self.store.write(self.app.ask_to_cancel, data.deployment_id, reason)


#: The newest push of each target's branch (None: none known), the stream taken in first.
NewestPush = Callable[[list[TargetSpec]], Awaitable[list[Envelope | None]]]


async def apply_targets(
    request: ApplyTargets,
    store: DeployerStore,
    *,
    meta: Meta,
    newest_push: NewestPush | None = None,
) -> dict[str, Any]:
    """Record the declaration changes. A target declared (or moved to another repository,
    branch or subdirectory) deploys its branch's newest push at once, stored with the
    declaration; the reply lists those deployments under ``deploying``."""
    problems = [p for spec in request.targets for p in check_target(spec)]
    if problems:
        raise CommandRejected("; ".join(problems))

    def plan(app: DeployerApplication) -> list[Any]:
        registry = app.target_book().registry
        return planned_changes(registry, request.targets, prune=request.prune)

    changes = await store.read(plan, store.app)
    summary = change_summary(changes, dry_run=request.dry_run)
    if request.dry_run or not changes:
        return summary
    starting = [
        c.spec
        for c in changes
        if isinstance(c, TargetRegistered | TargetUpdated)
        and starts_from_a_push(c)
        # not deployed by hand only, nor only once CI has passed a push
        and c.spec.auto_deploy
        and not c.spec.require_ci
    ]
    pushes = await newest_push(starting) if newest_push is not None and starting else []
    deployments = [
        push_deployment(spec, envelope)
        for spec, envelope in zip(starting, pushes, strict=True)
        if envelope is not None
    ]
    queued = await store.write(store.app.record_target_changes, changes, meta, deployments)
    summary["deploying"] = []
    for item, done in zip(deployments, queued, strict=True):
        DeployerHandlers.log_queued(item, done)
        if done.created:
            summary["deploying"].append({"target": item.target, "commit": item.request["commit"]})
    return summary
