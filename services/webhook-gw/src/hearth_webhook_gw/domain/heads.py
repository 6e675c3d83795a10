"""The branch heads Hearth already knows, and which of a poll's heads are news.

The heads come from the PushReceived events in the stream (webhook or poll alike), so a
poll after a webhook publishes nothing.
"""

from __future__ import annotations

from hearth_events import Envelope, EventData, derived_event_id
from hearth_events.catalogue import PushReceived, RepositorySpec
from hearth_webhook_gw.domain.payloads import ZERO_SHA

Heads = dict[str, str]  # branch -> commit


class KnownHeads:
    """Last head Hearth recorded per (repository, ref)."""

    def __init__(self) -> None:
        self._heads: dict[tuple[str, str], str] = {}

    def apply(self, envelope: Envelope) -> None:
        self.apply_data(envelope.data)

    def apply_data(self, data: EventData) -> None:
        if isinstance(data, PushReceived):
            self._heads[(data.repo.lower(), data.ref)] = data.after

    def get(self, repo: str, ref: str) -> str | None:
        return self._heads.get((repo.lower(), ref))

    def branches(self, repo: str) -> dict[str, str]:
        return {
            ref.removeprefix("refs/heads/"): head
            for (name, ref), head in self._heads.items()
            if name == repo.lower() and ref.startswith("refs/heads/") and head != ZERO_SHA
        }


def changed_heads(spec: RepositorySpec, heads: Heads, known: KnownHeads) -> list[PushReceived]:
    """One PushReceived per followed branch that moved, appeared or disappeared."""
    wanted = set(spec.branches) if spec.branches else None
    current = {b: c for b, c in heads.items() if wanted is None or b in wanted}
    previous = {b: c for b, c in known.branches(spec.name).items() if wanted is None or b in wanted}
    pushes = []
    for branch in sorted(set(current) | set(previous)):
        before = previous.get(branch, ZERO_SHA)
        after = current.get(branch, ZERO_SHA)
        if before == after:
            continue
        pushes.append(
            PushReceived(
                delivery_id=f"poll:{derived_event_id('poll', spec.name, branch, before, after)}",
                repo=spec.name,
                ref=f"refs/heads/{branch}",
                branch=branch,
                before=before,
                after=after,
                created=before == ZERO_SHA,
                deleted=after == ZERO_SHA,
                source="poll",
            )
        )
    return pushes
