"""One target's queue: the deployment touching it, at most one waiting after it, what
Hearth deployed there last, and pushes waiting for their CI (never published)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from hearth_deployer.domain.errors import IllegalTransition
from hearth_deployer.domain.ids import line_uuid
from hearth_eventstore.store import HearthAggregate

#: How many CI results per target are remembered (a push may arrive after its CI).
CI_RESULTS_KEPT = 50


@dataclass(frozen=True)
class Restored:
    """What a completed restore did to the target's files (paths under its root)."""

    put_back: tuple[str, ...]
    deleted: tuple[str, ...]


class TargetLine(HearthAggregate):
    @staticmethod
    def create_id(target: str) -> UUID:
        return line_uuid(target)

    def __init__(self, target: str) -> None:
        self.target = target
        self.active: str | None = None
        self.waiting: str | None = None
        self.commit: str | None = None
        self.managed: list[str] = []
        #: The deployment that ended here last, whatever its outcome and whichever
        #: instance ran it: a host record another one wrote since is out of date.
        self.last_ended: str | None = None
        self.awaiting_ci: dict[str, dict[str, Any]] = {}
        self.ci_results: dict[str, str] = {}

    # -- commands ------------------------------------------------------------------------
    def queue(self, deployment_id: str) -> str | None:
        """Queue a deployment; returns the waiting one it supersedes, if any."""
        superseded = self.waiting
        self._queued(deployment_id)
        return superseded

    def begin(self) -> str:
        """Make the waiting deployment the active one; returns its id."""
        if self.active is not None:
            raise IllegalTransition(
                f"cannot begin: deployment {self.active} is still active on {self.target}"
            )
        if self.waiting is None:
            raise IllegalTransition(f"cannot begin: nothing waits on {self.target}")
        deployment_id = self.waiting
        self._began(deployment_id)
        return deployment_id

    def drop(self, deployment_id: str) -> None:
        """A waiting deployment was cancelled before it began."""
        self._dropped(deployment_id)

    def end(
        self,
        deployment_id: str,
        *,
        commit: str | None,
        managed: list[str] | None,
        restored: Restored | None = None,
    ) -> None:
        """The active deployment is terminal; ``managed`` is set when files changed. A
        list equal to the line's own is not recorded again: a one-file change to a tree
        of 400 files stored 400 paths with every deployment's end, for nothing.

        ``restored``: a restore put files of a backup back and deleted the ones that
        backup's deployment had added: what it put back is Hearth's to manage again (so
        the next deployment from a repository without one removes it), what it deleted
        no longer."""
        if restored is not None:
            kept = set(self.managed) - set(restored.deleted)
            managed = sorted(kept | set(restored.put_back))
        if managed is not None and managed == self.managed:
            managed = None
        self._ended(deployment_id, commit, managed)

    def await_ci(self, commit: str, request: dict[str, Any]) -> None:
        self._awaiting_ci(commit, request)

    def ci_finished(self, commit: str, conclusion: str) -> dict[str, Any] | None:
        """Remember a CI result; returns the push request it releases, if any."""
        request = self.awaiting_ci.get(commit)
        self._ci_finished(commit, conclusion)
        return request if conclusion == "success" else None

    # -- events --------------------------------------------------------------------------
    class Queued(HearthAggregate.Event):
        deployment_id: str

    @event(Queued)
    def _queued(self, deployment_id: str) -> None:
        self.waiting = deployment_id

    class Began(HearthAggregate.Event):
        deployment_id: str

    @event(Began)
    def _began(self, deployment_id: str) -> None:
        self.active = deployment_id
        if self.waiting == deployment_id:
            self.waiting = None

    class Dropped(HearthAggregate.Event):
        deployment_id: str

    @event(Dropped)
    def _dropped(self, deployment_id: str) -> None:
        if self.waiting == deployment_id:
            self.waiting = None

    class Ended(HearthAggregate.Event):
        deployment_id: str
        commit: str | None
        managed: list[str] | None

    @event(Ended)
    def _ended(self, deployment_id: str, commit: str | None, managed: list[str] | None) -> None:
        if self.active == deployment_id:
            self.active = None
        self.last_ended = deployment_id
        if commit is not None:
            self.commit = commit
        if managed is not None:
            self.managed = managed

    class AwaitingCi(HearthAggregate.Event):
        commit: str
        request: dict[str, Any]

    @event(AwaitingCi)
    def _awaiting_ci(self, commit: str, request: dict[str, Any]) -> None:
        self.awaiting_ci[commit] = request

    class CiFinished(HearthAggregate.Event):
        commit: str
        conclusion: str

    @event(CiFinished)
    def _ci_finished(self, commit: str, conclusion: str) -> None:
        self.awaiting_ci.pop(commit, None)
        self.ci_results[commit] = conclusion
        while len(self.ci_results) > CI_RESULTS_KEPT:
            del self.ci_results[next(iter(self.ci_results))]
