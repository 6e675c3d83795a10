"""The deployer's event store (schema ``deployer``) and its async face.

eventsourcing is synchronous: every call runs in a worker thread. Writes are serialised in
this process and retried when another deployer instance saved the same aggregate first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from hearth_deployer.domain import (
    KNOWN_HOSTS_ID,
    TARGETS_ID,
    Deployment,
    KnownHosts,
    TargetBook,
    TargetLine,
    deployment_uuid,
    line_uuid,
)
from hearth_events import EventData
from hearth_events.catalogue import DeploymentSuperseded, TargetSpec
from hearth_eventstore.store import HearthApplication, Meta

SCHEMA = "deployer"
_CONFLICT_RETRIES = 5
T = TypeVar("T")


@dataclass(frozen=True)
class Queued:
    created: bool
    superseded: str | None = None


class DeployerApplication(HearthApplication):
    def _get(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    # -- targets ---------------------------------------------------------------------
    def target_book(self) -> TargetBook:
        book: TargetBook | None = self._get(TARGETS_ID)
        return book if book is not None else TargetBook()

    def targets(self) -> list[TargetSpec]:
        return self.target_book().registry.all()

    def target(self, name: str) -> TargetSpec | None:
        return self.target_book().registry.get(name)

    def record_target_changes(self, changes: list[EventData], meta: Meta) -> None:
        book = self.target_book()
        for change in changes:
            book.record(change, meta)
        self.save(book)

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
        if known.keys.get(f"{host}:{port}") != line:
            known.learn(host, port, line)
            self.save(known)

    def line(self, target: str) -> TargetLine:
        line: TargetLine | None = self._get(line_uuid(target))
        return line if line is not None else TargetLine(target)

    # -- deployments -----------------------------------------------------------------
    def deployment(self, deployment_id: str) -> Deployment | None:
        found: Deployment | None = self._get(deployment_uuid(deployment_id))
        return found

    def queue_deployment(
        self,
        deployment_id: str,
        target: str,
        *,
        kind: str,
        request: dict[str, Any],
        meta: Meta,
        announce: EventData | None = None,
    ) -> Queued:
        """Store a requested deployment and queue it on its target, superseding the one
        that waited there. ``announce`` (a DeployRequested) is recorded when this service
        is where the request begins; requests from the bus are not published again."""
        if self.deployment(deployment_id) is not None:
            return Queued(created=False)
        deployment = Deployment(deployment_id, target, kind, request)
        if announce is not None:
            deployment.record(announce, meta)
        line = self.line(target)
        superseded_id = line.queue(deployment_id)
        changed: list[Any] = [deployment, line]
        if superseded_id is not None:
            old = self.deployment(superseded_id)
            if old is not None and old.terminal is None:
                old.record(
                    DeploymentSuperseded(
                        deployment_id=superseded_id, target=target, superseded_by=deployment_id
                    ),
                    meta,
                )
                changed.append(old)
        self.save(*changed)
        return Queued(created=True, superseded=superseded_id)

    def begin_next(self, target: str) -> Deployment | None:
        """Make the waiting deployment active when the target is free."""
        line = self.line(target)
        if line.active is not None or line.waiting is None:
            return None
        deployment_id = line.begin()
        self.save(line)
        return self.deployment(deployment_id)

    def record(self, deployment_id: str, events: list[EventData], meta: Meta) -> Deployment:
        deployment = self.deployment(deployment_id)
        if deployment is None:
            raise LookupError(f"no deployment {deployment_id}")
        for data in events:
            deployment.record(data, meta)
        self.save(deployment)
        return deployment

    def change(self, deployment_id: str, mutate: Callable[[Deployment], None]) -> Deployment:
        deployment = self.deployment(deployment_id)
        if deployment is None:
            raise LookupError(f"no deployment {deployment_id}")
        mutate(deployment)
        self.save(deployment)
        return deployment

    def change_line(self, target: str, mutate: Callable[[TargetLine], T]) -> T:
        line = self.line(target)
        result = mutate(line)
        self.save(line)
        return result

    def cancel_waiting(self, deployment_id: str, events: list[EventData], meta: Meta) -> bool:
        """Cancel a deployment that has not begun; False if it already began."""
        deployment = self.deployment(deployment_id)
        if deployment is None or deployment.terminal is not None:
            return False
        line = self.line(deployment.target)
        if line.waiting != deployment_id:
            return False
        line.drop(deployment_id)
        for data in events:
            deployment.record(data, meta)
        self.save(deployment, line)
        return True


class DeployerStore:
    """The application, called from asyncio."""

    def __init__(self, app: DeployerApplication) -> None:
        self.app = app
        self._writes = asyncio.Lock()

    async def read(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(call, *args)

    async def write(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async with self._writes:
            for attempt in range(_CONFLICT_RETRIES):
                try:
                    return await asyncio.to_thread(lambda: call(*args, **kwargs))
                except IntegrityError:
                    # Another instance saved the same aggregate first: read it again.
                    if attempt == _CONFLICT_RETRIES - 1:
                        raise
                    await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")
