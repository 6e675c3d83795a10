"""The deployer's event store (schema ``deployer``) and its async face.

eventsourcing is synchronous: every call runs in a worker thread. Writes are serialised in
this process and retried when another deployer instance saved the same aggregate first.
Writes that queue up meanwhile (the steps of twenty deployments of one push) are saved
together, one transaction for all that waited (``hearth_eventstore.writes``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hearth_deployer.adapters.deployments import DeploymentCommands
from hearth_deployer.domain import (
    KNOWN_HOSTS_ID,
    TARGETS_ID,
    Deployment,
    KnownHosts,
    Restored,
    TargetBook,
    TargetLine,
    line_uuid,
)
from hearth_events import EventData
from hearth_events.catalogue import DeploymentCancelled, DeployRequested, TargetSpec
from hearth_eventstore.store import Meta
from hearth_eventstore.writes import Writes

SCHEMA = "deployer"
T = TypeVar("T")


@dataclass(frozen=True)
class Queued:
    created: bool
    superseded: str | None = None
    #: The target's line as the save that queued the deployment left it: the kick that
    #: follows starts from it instead of reading it again (one read a deployment).
    line: TargetLine | None = None


@dataclass(frozen=True)
class ToQueue:
    """A deployment to store and queue on its target (``queue_deployment``'s arguments)."""

    deployment_id: str
    target: str
    kind: str
    request: dict[str, Any]
    meta: Meta
    announce: DeployRequested | None = None


class DeployerApplication(DeploymentCommands):
    """Targets, lines and the queue here; the deployment commands in ``deployments.py``."""

    env = {"AGGREGATE_CACHE_MAXSIZE": "2000"}
    #: A deployment's steps are written by the one instance that holds its target's
    #: lease. Every command method saves the deployment it decides from, except where a
    #: copy that is behind cannot decide wrong: whether it exists (none is ever removed),
    #: whether it ended (it never un-ends), its id. Lines and the target book are shared
    #: by every instance's pushes and sweeps: always read from the store.
    own_copies_of = (Deployment,)

    # -- targets ---------------------------------------------------------------------
    def target_book(self) -> TargetBook:
        book: TargetBook | None = self._get(TARGETS_ID)
        return book if book is not None else TargetBook()

    def targets(self) -> list[TargetSpec]:
        return self.target_book().registry.all()

    def target(self, name: str) -> TargetSpec | None:
        return self.target_book().registry.get(name)

    def record_target_changes(
        self, changes: list[EventData], meta: Meta, deployments: Sequence[ToQueue] = ()
    ) -> list[Queued]:
        """Record declaration changes, and queue the deployments they set off in the same
        save: a target is never declared without the deployment its declaration promised."""
        book = self.target_book()
        for change in changes:
            book.record(change, meta)
        changed: list[Any] = [book]
        queued = []
        for item in deployments:
            aggregates, done = self._queue(item)
            changed += aggregates
            queued.append(done)
        self.save(*changed)
        return queued

    def known_hosts(self) -> dict[tuple[str, int], str]:
        known: KnownHosts | None = self._get(KNOWN_HOSTS_ID)
        if known is None:
            return {}
        found = {}
        for address, line in known.keys.items():
            host, _, port = address.rpartition(":")
            found[(host, int(port))] = line
        return found

    def learn_host_key(self, host: str, port: int, line: str) -> None:
        known: KnownHosts | None = self._get(KNOWN_HOSTS_ID)
        known = known if known is not None else KnownHosts()
        if known.learn(host, port, line):
            self.save(known)

    def line(self, target: str) -> TargetLine:
        line: TargetLine | None = self._get(line_uuid(target))
        return line if line is not None else TargetLine(target)

    # -- deployments -----------------------------------------------------------------

    def queue_deployment(
        self,
        deployment_id: str,
        target: str,
        *,
        kind: str,
        request: dict[str, Any],
        meta: Meta,
        announce: DeployRequested | None = None,
    ) -> Queued:
        """Store a requested deployment and queue it on its target, superseding the one
        that waited there. ``announce`` (a DeployRequested) is recorded when this service
        is where the request begins; requests from the bus are not published again."""
        item = ToQueue(deployment_id, target, kind, request, meta, announce)
        changed, queued = self._queue(item)
        if changed:
            self.save(*changed)
        return queued

    def _queue(self, item: ToQueue) -> tuple[list[Any], Queued]:
        if self._look_at(item.deployment_id) is not None:  # a request delivered again
            return [], Queued(created=False)
        deployment = Deployment(item.deployment_id, item.target, item.kind, item.request)
        if item.announce is not None:
            deployment.request_deploy(item.announce, item.meta)
        line = self.line(item.target)
        superseded_id = line.queue(item.deployment_id)
        changed: list[Any] = [deployment, line]
        if superseded_id is not None:
            old = self.deployment(superseded_id)
            if old is not None and old.terminal is None:
                old.supersede(item.deployment_id, item.meta)
                changed.append(old)
        return changed, Queued(created=True, superseded=superseded_id, line=line)

    def begin_next(self, target: str) -> Deployment | None:
        """Make the waiting deployment active when the target is free."""
        line = self.line(target)
        if line.active is not None or line.waiting is None:
            return None
        deployment_id = line.begin()
        self.save(line)
        return self._look_at(deployment_id)

    def _look_at(self, deployment_id: str) -> Deployment | None:
        """The deployment, read in a write that does not change it: its copy is kept
        again for the next write, which would otherwise read it from the store (a SELECT
        in the writer, one write at a time)."""
        deployment = self.deployment(deployment_id)
        if deployment is not None:
            self.keep_own(deployment)
        return deployment

    def ask_to_cancel(self, deployment_id: str, reason: str) -> bool:
        """Ask a running deployment to stop at its next cancel point; False if it ended."""
        deployment = self._deployment(deployment_id)
        if deployment.terminal is not None:
            return False
        deployment.ask_to_cancel(reason)
        self.save(deployment)
        return True

    def cancel_waiting(self, deployment_id: str, data: DeploymentCancelled, meta: Meta) -> bool:
        """Cancel a deployment that has not begun; False if it already began."""
        deployment = self.deployment(deployment_id)
        if deployment is None or deployment.terminal is not None:
            return False
        line = self.line(deployment.target)
        if line.waiting != deployment_id:
            return False
        line.drop(deployment_id)
        deployment.cancel(data, meta)
        self.save(deployment, line)
        return True

    def end_on_line(
        self,
        target: str,
        deployment_id: str,
        *,
        commit: str | None,
        managed: list[str] | None,
        restored: Restored | None = None,
    ) -> TargetLine:
        """End the deployment on its line; the line as it is now."""
        line = self.line(target)
        line.end(deployment_id, commit=commit, managed=managed, restored=restored)
        self.save(line)
        return line

    def await_ci(self, target: str, commit: str, request: dict[str, Any]) -> None:
        line = self.line(target)
        line.await_ci(commit, request)
        self.save(line)

    def ci_finished(self, target: str, commit: str, conclusion: str) -> dict[str, Any] | None:
        """Remember a CI result; returns the push request it releases, if any."""
        line = self.line(target)
        released = line.ci_finished(commit, conclusion)
        self.save(line)
        return released


class DeployerStore:
    """The application, called from asyncio."""

    def __init__(self, app: DeployerApplication) -> None:
        self.app = app
        self._writes = Writes(app, name="deployer-store-writes")

    async def read(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(call, *args)

    async def write(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._writes.batched(call, *args, **kwargs)
