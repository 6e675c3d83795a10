"""Reading bookkeeping stored before each aggregate had named events.

Until then every deployer-only change was one ``Noted`` event (a kind and its fields) under
the topics below; data directories hold them still. Each old kind maps to the named event
that replaced it, with the same fields, so an old aggregate replays to the same state.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from hearth_deployer.domain.deployment import Deployment
from hearth_deployer.domain.target_line import TargetLine
from hearth_deployer.domain.targets import KnownHosts

_NAMED: dict[str, type[Aggregate.Event]] = {
    "backup_kept": Deployment.BackupKept,
    "upload_begun": Deployment.UploadBegun,
    "managed_known": Deployment.ManagedKnown,
    "cancel_asked": Deployment.CancelAsked,
    "host_key_learned": KnownHosts.HostKeyLearned,
    "queued": TargetLine.Queued,
    "began": TargetLine.Began,
    "dropped": TargetLine.Dropped,
    "ended": TargetLine.Ended,
    "awaiting_ci": TargetLine.AwaitingCi,
    "ci_finished": TargetLine.CiFinished,
}


class Noted(Aggregate.Event):
    """An old bookkeeping event, only ever read: applied as the named event it became."""

    kind: str
    fields: dict[str, Any]

    def apply(self, aggregate: Aggregate) -> None:
        named = _NAMED[self.kind](
            originator_id=self.originator_id,
            originator_version=self.originator_version,
            timestamp=self.timestamp,
            **self.fields,
        )
        named.apply(aggregate)


for _owner in ("Deployment", "TargetLine", "KnownHosts", "TargetBook"):
    register_topic(f"hearth_deployer.domain:{_owner}.Noted", Noted)
