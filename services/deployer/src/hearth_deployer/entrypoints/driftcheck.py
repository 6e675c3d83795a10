"""The timer behind ``full_check_interval_h``: a host nobody deploys to is still checked.

Every :data:`EVERY_S` the deployer looks for targets whose last full re-hash is older than
their interval and whose queue is idle, and requests a dry-run deployment with a full
check for each (trigger ``schedule``): it re-hashes every file on the host, reports files
changed behind Hearth's back as drift (``DeploymentPlanned.drifted``, a warning in the
log) and changes nothing; the next real deployment overwrites them. A target is asked at
most once per interval, even when its check fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from hearth_deployer.adapters.records import HostRecords
from hearth_deployer.adapters.store import DeployerStore
from hearth_events.catalogue import DeployRequested, TargetSpec
from hearth_events.ids import uuid7
from hearth_servicekit import get_logger

log = get_logger("hearth.driftcheck")

#: Seconds between looks (tests shorten it).
EVERY_S = 300.0


class DriftChecks:
    def __init__(
        self,
        store: DeployerStore,
        records: HostRecords,
        request: Callable[[DeployRequested], Awaitable[None]],
    ) -> None:
        self.store = store
        self.records = records
        self.request = request
        self._asked: dict[str, float] = {}

    async def due(self, now: float) -> list[TargetSpec]:
        found = []
        for spec in await self.store.read(self.store.app.targets):
            interval_s = spec.full_check_interval_h * 3600
            if interval_s <= 0 or now - self._asked.get(spec.name, 0.0) < interval_s:
                continue
            record = self.records.load(spec.name, spec.remote_path)
            if record is None or not record.full_check_due(spec.full_check_interval_h, now):
                continue  # never deployed by Hearth, or checked recently
            line = await self.store.read(self.store.app.line, spec.name)
            if line.active is None and line.waiting is None:
                found.append(spec)
        return found

    async def run_once(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for spec in await self.due(now):
            self._asked[spec.name] = now
            log.info("full check due", target=spec.name)
            await self.request(
                DeployRequested(
                    deployment_id=str(uuid7()),
                    target=spec.name,
                    repo=spec.repo,
                    trigger="schedule",
                    dry_run=True,
                    full_check=True,
                )
            )

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), EVERY_S)
            if stop.is_set():
                return
            try:
                await self.run_once()
            except Exception:
                log.exception("drift check failed")
