"""The newest push Hearth knows per (repository, branch): where a newly declared target
starts.

A push is acted on for the targets that exist when the deployer reads it. A target
declared afterwards (a second host added to ``hearth.yaml``, or the first start of the
demo on a slow machine) would otherwise wait for the next push; instead its declaration
deploys the newest push of its repository and branch, as the very deployment that push
would have asked for (same id), so the two paths never deploy it twice.
"""

from __future__ import annotations

from collections.abc import Callable

from hearth_events import Envelope, EventData
from hearth_events.catalogue import PushReceived, TargetRegistered, TargetUpdated

#: A target whose update changes one of these now deploys other content.
SOURCE_FIELDS = frozenset({"repo", "branch", "subdirectory"})


class LatestPushes:
    """The newest branch push per (repository as the push names it, branch), in stream
    order. Tags are left out; a deleted branch forgets its head."""

    def __init__(self) -> None:
        self._pushes: dict[tuple[str, str], Envelope] = {}

    def apply(self, envelope: Envelope) -> None:
        data = envelope.data
        if not isinstance(data, PushReceived) or data.branch is None:
            return
        key = (data.repo.lower(), data.branch)
        self._pushes.pop(key, None)  # re-inserted last: the dict keeps stream order
        if not data.deleted:
            self._pushes[key] = envelope

    def newest(self, branch: str, fed: Callable[[str], bool]) -> Envelope | None:
        """The newest push of ``branch`` whose repository ``fed`` accepts (a repository may
        be named by a webhook and by its URL)."""
        found = None
        for (_, pushed_branch), envelope in self._pushes.items():
            if pushed_branch == branch and fed(envelope.data.repo):  # type: ignore[attr-defined]
                found = envelope
        return found


def starts_from_a_push(change: EventData) -> bool:
    """Whether a declaration change makes the target deploy its branch's newest push."""
    if isinstance(change, TargetRegistered):
        return True
    return isinstance(change, TargetUpdated) and bool(SOURCE_FIELDS & set(change.changed_fields))
