"""Poll repositories that cannot receive webhooks; a new head becomes a PushReceived.

The heads Hearth already knows come from the PushReceived events in the stream (webhook
or poll alike), so a poll after a webhook publishes nothing, and a poll and a webhook of
the same push derive the same event id and are stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from hearth_events import Envelope, EventData, derived_event_id, new_event
from hearth_events.catalogue import PushReceived, RepositorySpec
from hearth_servicekit import get_logger
from hearth_servicekit.publishing import BusUnavailable, EventSink
from hearth_webhook_gw.heads import Heads, HeadSource, PollError
from hearth_webhook_gw.payloads import ZERO_SHA

log = get_logger("hearth.polling")

MAX_BACKOFF_FACTOR = 10


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


async def poll_repository(
    spec: RepositorySpec,
    source: HeadSource,
    token: str | None,
    known: KnownHeads,
    sink: EventSink,
    *,
    source_name: str,
) -> list[Envelope]:
    heads = await source.heads(spec, token)
    if heads is None:  # the source says nothing changed
        return []
    try:
        pushes = changed_heads(spec, heads, known)
    except ValidationError:
        raise PollError(f"{spec.url} answered a branch head that is not a full commit id") from None
    published = []
    for push in pushes:
        envelope = new_event(
            push,
            source=source_name,
            actor="hearth:poll",
            event_id=derived_event_id("push", push.repo, push.ref, push.before, push.after),
        )
        await sink.publish(envelope)
        known.apply_data(push)
        published.append(envelope)
    return published


@dataclass
class _Schedule:
    next_at: float = 0.0
    failures: int = 0
    running: bool = False


@dataclass
class Poller:
    """Polls every repository with a ``poll_interval_s`` when it is due."""

    repositories: Callable[[], list[RepositorySpec]]
    sources: dict[str, HeadSource]
    token_for: Callable[[RepositorySpec], Awaitable[str | None]]
    known: KnownHeads
    sink: EventSink
    source_name: str
    on_result: Callable[[str, str], None] = lambda repo, outcome: None
    max_parallel: int = 4
    _schedule: dict[str, _Schedule] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event, tick_s: float = 1.0) -> None:
        limit = asyncio.Semaphore(self.max_parallel)
        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            now = time.monotonic()
            for spec in self.repositories():
                if spec.poll_interval_s is None:
                    continue
                entry = self._schedule.setdefault(spec.name.lower(), _Schedule())
                if entry.running or now < entry.next_at:
                    continue
                entry.running = True
                task = asyncio.create_task(self._poll(spec, entry, limit))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick_s)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _poll(self, spec: RepositorySpec, entry: _Schedule, limit: asyncio.Semaphore) -> None:
        assert spec.poll_interval_s is not None
        try:
            async with limit:
                token = await self.token_for(spec)
                await poll_repository(
                    spec,
                    self.sources[spec.provider],
                    token,
                    self.known,
                    self.sink,
                    source_name=self.source_name,
                )
            entry.failures = 0
            self.on_result(spec.name, "ok")
        except (PollError, BusUnavailable) as exc:
            entry.failures += 1
            log.warning(
                "poll failed", repo=spec.name, error=str(exc), consecutive_failures=entry.failures
            )
            self.on_result(spec.name, "error")
        finally:
            factor = min(2**entry.failures, MAX_BACKOFF_FACTOR) if entry.failures else 1
            entry.next_at = time.monotonic() + spec.poll_interval_s * factor
            entry.running = False
