"""The poll timer: each repository with a ``poll_interval_s`` is polled when it is due
(``handlers.poll_repository`` does the work), with backoff after failures.

A poll and a webhook of the same push derive the same event id and are stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from hearth_events.catalogue import RepositorySpec
from hearth_servicekit import get_logger
from hearth_servicekit.publishing import BusUnavailable, EventSink
from hearth_webhook_gw.adapters.heads import HeadSource, PollError
from hearth_webhook_gw.domain.heads import KnownHeads
from hearth_webhook_gw.handlers import poll_repository

log = get_logger("hearth.polling")

MAX_BACKOFF_FACTOR = 10


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
