"""Drift and apply: compare each device with Git, report the difference, converge it.

A comparison runs after a push (the device's desired config may have changed), when a
device connects or reports a cfg_rev other than the one last compared, on a schedule, and
on the operator's ``Apply``. It is cheap when nothing moved: the cfg_rev the device reports
and the desired config are compared with the last comparison's before the device's whole
config is read. One comparison per device at a time, at most ``concurrency`` at once.

Policy (from the device's groups): ``apply`` converges, ``alert`` only reports, ``off``
ignores the device; the operator's ``Apply`` converges whatever the policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal

from hearth_device_manager.adapters.ports import DeviceLink
from hearth_device_manager.domain.desired import (
    DesiredDevice,
    diff,
    from_device,
    resolution_of,
)
from hearth_device_manager.domain.device import Device
from hearth_device_manager.domain.errors import DeviceError
from hearth_device_manager.handlers import DeviceHandlers
from hearth_device_manager.workflows.apply import Applier, cfg_rev
from hearth_device_manager.workflows.desired_sync import DesiredRepo, desired_json
from hearth_events.catalogue import FieldDiff
from hearth_eventstore.store import Meta
from hearth_servicekit import get_logger

log = get_logger("hearth.device_manager")
Reason = Literal["push", "device", "timer", "operator"]
_RANK: dict[Reason, int] = {"timer": 0, "device": 1, "push": 2, "operator": 3}


@dataclass(frozen=True)
class ConvergeTiming:
    interval_s: float = 300.0  # HEARTH_DRIFT_INTERVAL_S; 0 = no scheduled comparison
    concurrency: int = 8  # HEARTH_APPLY_CONCURRENCY


class Convergence:
    def __init__(
        self,
        devices: DeviceHandlers,
        repo: DesiredRepo,
        applier: Applier,
        timing: ConvergeTiming | None = None,
    ) -> None:
        self._devices = devices
        self._repo = repo
        self._applier = applier
        self.timing = timing or ConvergeTiming()
        self._gate = asyncio.Semaphore(self.timing.concurrency)
        self._locks: dict[str, asyncio.Lock] = {}
        self._pending: dict[str, Reason] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        #: (cfg_rev, desired config) at the last comparison, per device.
        self._compared: dict[str, tuple[int | None, dict[str, Any]]] = {}
        #: Scheduled scans started so far (``/readyz`` details; tests wait for them).
        self.scans = 0

    def compared(self, device_id: str) -> bool:
        """Whether the device was compared with its desired config since the start."""
        return device_id in self._compared

    @property
    def busy(self) -> bool:
        """Whether a comparison is queued or running."""
        return bool(self._pending) or any(lock.locked() for lock in self._locks.values())

    # -- hooks (sync: from the device handlers' worker) --------------------------------------
    def claim(self, device: Device) -> tuple[str, str | None] | None:
        return self._repo.claim(device)

    def seen(self, device_id: str, connected: bool, status: dict[str, Any]) -> None:
        if connected:
            self._applier.relinked(device_id)
        live = self._devices.live.get(device_id)
        desired = self._repo.desired_for(live.device) if live is not None else None
        if desired is None or desired.policy == "off":
            return  # nothing to compare: a status change costs two lookups
        last = self._compared.get(device_id)
        if connected or last is None or last[0] != cfg_rev(status):
            self.schedule(device_id, "device")

    def released(self, device_id: str) -> None:
        """Adopted again later, or named by Git again after its file was removed, the
        device is compared afresh (its drift was forgotten)."""
        self._compared.pop(device_id, None)

    def pushed(self, device_ids: list[str]) -> None:
        for device_id in device_ids:
            self.schedule(device_id, "push")

    def schedule(self, device_id: str, reason: Reason) -> None:
        """Compare soon. A device already waiting for its comparison is not queued twice;
        the waiting one takes the stronger reason (a push reads the config whatever the
        cfg_rev; a timer or a status may skip it)."""
        waiting = self._pending.get(device_id)
        if waiting is not None:
            if _RANK[reason] > _RANK[waiting]:
                self._pending[device_id] = reason
            return
        self._pending[device_id] = reason
        task = asyncio.get_running_loop().create_task(self._run(device_id, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, device_id: str, reason: Reason) -> None:
        try:
            await self.converge(device_id, reason, queued=True)
        except Exception:  # one device's trouble must not stop the others'
            log.exception("drift check failed", device=device_id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def run_forever(self, stopping: asyncio.Event) -> None:
        """Compare every device with desired config each ``interval_s`` (cfg_rev first)."""
        while not stopping.is_set():
            with suppress(TimeoutError):
                async with asyncio.timeout(self.timing.interval_s):
                    await stopping.wait()
            if stopping.is_set():
                return
            self.scans += 1
            for device_id, live in list(self._devices.live.items()):
                if self._repo.desired_for(live.device) is not None:
                    self.schedule(device_id, "timer")

    # -- one device --------------------------------------------------------------------------
    async def converge(
        self, device_id: str, reason: Reason, *, queued: bool = False
    ) -> dict[str, Any]:
        """Compare (and, by policy or on the operator's word, apply); what happened."""
        async with self._locks.setdefault(device_id, asyncio.Lock()), self._gate:
            if queued:
                reason = self._pending.pop(device_id, reason)
            return await self._converge(device_id, reason)

    async def _converge(self, device_id: str, reason: Reason) -> dict[str, Any]:
        live = self._devices.live.get(device_id)
        if live is None:
            return {"result": "not_adopted"}
        desired = self._repo.desired_for(live.device)
        if desired is None:
            return {"result": "no_desired_config"}
        if desired.policy == "off" and reason != "operator":
            return {"result": "off"}
        link = self._applier.link(device_id)
        if link is None:
            return {"result": "offline"}
        wanted = desired_json(desired)
        if reason in ("device", "timer") and self._compared.get(device_id) == (
            cfg_rev(link.status),
            wanted,
        ):
            return {"result": "unchanged"}
        device = await self._device(live.device)
        commit = self._repo.loaded.commit or ""
        device = await self._repo.desire(device, desired, commit, self._meta(reason))
        try:
            return await self._compare(device, desired, link, reason, wanted)
        except DeviceError as error:  # the device went away while we read it
            return {"result": "offline", "reason": str(error)}

    async def _compare(
        self,
        device: Device,
        desired: DesiredDevice,
        link: DeviceLink,
        reason: Reason,
        wanted: dict[str, Any],
    ) -> dict[str, Any]:
        raw = await link.read_config()
        if self._repo.desired_for(device) is None:  # Git dropped it while the device was read
            return {"result": "no_desired_config"}
        self._compared[device.device_id] = (cfg_rev(raw) or cfg_rev(link.status), wanted)
        diffs = diff(desired.config, from_device(raw, desired.spec), desired.sources)
        meta = self._meta(reason)
        converge = desired.policy == "apply" or reason == "operator"
        if not diffs:
            if device.drift:  # in sync before too: nothing to write (the common case)
                how = resolution_of(device.drift, desired.config)
                await self._act(device, lambda d: d.drift_resolved(how, meta))
            if converge:
                await self._applier.ensure_password(device, desired, meta)
            return {"result": "in_sync"}
        if not await self._act(device, lambda d: self._drifted(d, diffs, meta)):
            return {"result": "no_desired_config"}
        if not converge:
            return {"result": "drifted", "fields": [d.path for d in diffs]}
        outcome = await self._applier.apply(device, desired, diffs, raw, meta)
        if outcome["result"] == "applied":
            self._compared[device.device_id] = (outcome.pop("cfg_rev"), wanted)
        return outcome

    # -- the operator's Apply ---------------------------------------------------------------
    async def apply_now(self, device_ids: list[str]) -> list[dict[str, Any]]:
        results = await asyncio.gather(*(self.converge(i, "operator") for i in device_ids))
        return [{"device_id": i, **r} for i, r in zip(device_ids, results, strict=True)]

    # -- helpers ----------------------------------------------------------------------------
    async def _device(self, device: Device) -> Device:
        fresh: Device | None = await self._devices.store.read(
            self._devices.store.app.device, device.mac
        )
        return fresh or device

    async def _act(self, device: Device, action: Callable[[Device], Any]) -> Any:
        return await self._devices.store.write(self._devices.store.app.act, device.mac, action)

    def _drifted(self, device: Device, diffs: list[FieldDiff], meta: Meta) -> bool:
        """Record the drift; False (nothing recorded) when Git no longer has a desired
        config for the device: removed while it was compared, or not yet written again."""
        if device.desired is None or self._repo.desired_for(device) is None:
            return False
        device.drifted(diffs, meta)
        return True

    def _meta(self, reason: Reason) -> Meta:
        return self._devices.meta("hearth:timer" if reason == "timer" else None)
