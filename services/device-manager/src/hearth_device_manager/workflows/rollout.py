"""Runs staged firmware rollouts (``domain/rollout.py``) against the fleet: one task per
running rollout, which reads the aggregate, does its next step and records it, so a
restarted device manager resumes where the last one stopped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any
from uuid import uuid4

from hearth_device_manager.adapters.coordinator import Coordinator
from hearth_device_manager.adapters.ports import DeviceLink
from hearth_device_manager.domain.backup import changed_paths, strip_secrets, without_volatile
from hearth_device_manager.domain.device import IllegalTransition
from hearth_device_manager.domain.errors import DeviceError
from hearth_device_manager.domain.rollout import ROLLOUTS_ID, Rollout, Rollouts, Step, plan_waves
from hearth_device_manager.workflows.fleet import Fleet, Refused, Snapshots
from hearth_servicekit import get_logger

log = get_logger("hearth.device_manager")


class OtaEvents:
    """``ota_*`` notifications of every device (from the connector), handed to the rollout
    waiting on that device; the last ``ota_progress`` percentage per device."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.progress: dict[str, int] = {}

    def event(self, device_id: str, item: dict[str, Any]) -> None:
        name = str(item.get("event", ""))
        if not name.startswith("ota_"):
            return
        if name == "ota_progress":
            self.progress[device_id] = int(item.get("progress_percent") or 0)
            log.info(
                "firmware update progress", device=device_id, percent=item.get("progress_percent")
            )
        queue = self._waiting.get(device_id)
        if queue is not None:
            queue.put_nowait(item)

    def watch(self, device_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._waiting[device_id] = queue
        return queue

    def unwatch(self, device_id: str) -> None:
        self._waiting.pop(device_id, None)


def target_version(
    pin: str | None, offered: str | None, installed: str, channel: str
) -> tuple[str | None, str]:
    """The version to install, or None and why the device is skipped."""
    if pin and installed == pin:
        return None, f"already on the pinned {pin}"
    if pin and offered != pin:
        return None, f"pinned to {pin}; the {channel} channel offers {offered or 'nothing'}"
    if not offered or offered == installed:
        return None, f"up to date ({installed})"
    return offered, ""


class RolloutRunner:
    def __init__(
        self,
        fleet: Fleet,
        snapshots: Snapshots,
        ota: OtaEvents,
        *,
        verify_s: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fleet = fleet
        self.snapshots = snapshots
        self.ota = ota
        self.verify_s = verify_s
        self._clock = clock
        self.tasks: dict[str, asyncio.Task[None]] = {}
        #: The firmware channel of a device's group (``channel`` in the desired-config
        #: repository's group files), used when a rollout names no channel.
        self.channels: Callable[[str], Awaitable[str | None]] = _no_channel
        #: A fault-injection point for tests: awaited before each device's update.
        self.before_device: Callable[[str], Awaitable[None]] | None = None

    async def load(self, rollout_id: str) -> Rollout | None:
        found: Rollout | None = await self.fleet.store.read(
            self.fleet.store.app._get, Rollout.create_id(rollout_id)
        )
        return found

    async def _index(self) -> Rollouts:
        found: Rollouts | None = await self.fleet.store.read(self.fleet.store.app._get, ROLLOUTS_ID)
        return found if found is not None else Rollouts()

    # -- life ------------------------------------------------------------------------
    async def start(
        self,
        device_ids: list[str],
        channel: str | None,
        *,
        wave_size: int,
        pause_s: float,
        canaries_per_model: int,
        pins: dict[str, str],
        actor: str | None = None,
    ) -> Rollout:
        devices = [await self.fleet.device(d) for d in sorted(set(device_ids))]
        waves = plan_waves([(d.device_id, d.model) for d in devices], wave_size, canaries_per_model)
        channels = {}
        if channel is None:
            for device in devices:
                channels[device.device_id] = await self.channels(device.device_id) or "stable"
        rollout = Rollout(str(uuid4()))
        index = await self._index()
        meta = self.fleet.handlers.meta(actor)
        try:
            rollout.start(channel or "stable", waves, pause_s, pins, meta, channels=channels)
            index.open(rollout.rollout_id)
        except IllegalTransition as exc:
            raise Refused(str(exc)) from None
        await self.fleet.save(rollout, index)
        self._spawn(rollout.rollout_id)
        return rollout

    async def resume(self) -> None:
        active = (await self._index()).active
        if active is not None:
            log.info("resuming firmware rollout", rollout=active)
            self._spawn(active)

    def _spawn(self, rollout_id: str) -> None:
        task = asyncio.create_task(self._run(rollout_id), name=f"rollout:{rollout_id}")
        self.tasks[rollout_id] = task
        task.add_done_callback(lambda _: self.tasks.pop(rollout_id, None))

    async def stop(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self, rollout_id: str) -> None:
        try:
            while (rollout := await self.load(rollout_id)) is not None:
                step = rollout.next_step()
                if step is None:
                    index = await self._index()
                    index.close(rollout_id)
                    await self.fleet.save(index)
                    return
                await self._do(rollout, step)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not go unseen; the rollout resumes at the next start
            log.exception("firmware rollout stopped", rollout=rollout_id)

    async def _do(self, rollout: Rollout, step: Step) -> None:
        meta = self.fleet.handlers.meta()
        if step.kind == "wave":
            wait = step.wait_until - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)  # the operator's pause between waves
            rollout.begin_wave(step.wave, meta)
        elif step.kind == "complete":
            rollout.complete(meta)
        else:
            await self._device(rollout, step.device_id)
        await self.fleet.save(rollout)

    # -- one device --------------------------------------------------------------------
    async def _device(self, rollout: Rollout, device_id: str) -> None:
        if self.before_device is not None:
            await self.before_device(device_id)
        try:
            await self._update(rollout, device_id)
        except (Refused, DeviceError) as exc:
            reason = str(exc)
        except TimeoutError:
            reason = f"{device_id} did not come back within {self.verify_s:g} s"
        else:
            return
        log.warning("firmware update failed", device=device_id, reason=reason)
        rollout.device_failed(device_id, reason, self.fleet.handlers.meta())

    async def _update(self, rollout: Rollout, device_id: str) -> None:
        coordinator = self.fleet.coordinator(device_id)
        async with asyncio.timeout(self.verify_s):
            link = await coordinator.wait_link()
        installed = str(link.info.get("ver", ""))
        started = rollout.started.get(device_id)
        if started is not None:  # resumed: the update may have happened while no one watched
            version: str | None = started[1]
        else:
            version = await self._begin(rollout, device_id, link, installed)
            if version is None:
                return
        if installed != version:
            channel = rollout.channel_of(device_id)
            link = await self._install(link, coordinator, device_id, channel)
            installed = str(link.info.get("ver", ""))
            if installed != version:
                raise Refused(f"{device_id} came back on {installed}, not {version}")
        await self._verify_config(rollout, device_id, link)
        rollout.device_updated(device_id, version, self.fleet.handlers.meta(), self._clock())

    async def _begin(
        self, rollout: Rollout, device_id: str, link: DeviceLink, installed: str
    ) -> str | None:
        """The version the device is to get (after a backup and ``FirmwareUpdateStarted``),
        or None when it is skipped."""
        device = await self.fleet.device(device_id)
        channel = rollout.channel_of(device_id)
        offers = await link.check_firmware()
        pin = rollout.pins.get(device.model)
        version, why = target_version(pin, offers.get(channel), installed, channel)
        if version is None:
            rollout.device_skipped(device_id, why, self._clock())
            return None
        backup = await self.snapshots.take(device_id, "before_firmware")
        rollout.backed_up(device_id, backup.backup_id)
        rollout.device_started(device_id, installed, version, self.fleet.handlers.meta())
        await self.fleet.save(rollout)
        return version

    async def _install(
        self, link: DeviceLink, coordinator: Coordinator, device_id: str, channel: str
    ) -> DeviceLink:
        """Start the update and return the link of the device back online, or raise with
        the device's own ``ota_error`` message."""
        queue = self.ota.watch(device_id)
        waits: list[asyncio.Task[Any]] = []
        try:
            connections = coordinator.connections
            await link.update_firmware(channel)
            back = asyncio.create_task(coordinator.wait_link(connections))
            error = asyncio.create_task(_ota_error(queue))
            waits = [back, error]
            async with asyncio.timeout(self.verify_s):
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if error.done():
                raise Refused(f"{device_id}: {error.result()}")
            new_link: DeviceLink = back.result()
            return new_link
        finally:
            self.ota.unwatch(device_id)
            for task in waits:
                task.cancel()

    async def _verify_config(self, rollout: Rollout, device_id: str, link: DeviceLink) -> None:
        backup = await self.snapshots.get(rollout.backups[device_id])
        after, _ = strip_secrets(await link.read_config())
        changed = changed_paths(without_volatile(backup.config), without_volatile(after))
        if changed:
            raise Refused(f"{device_id}: the update changed its config ({', '.join(changed)})")


async def _no_channel(device_id: str) -> str | None:
    return None


async def _ota_error(queue: asyncio.Queue[dict[str, Any]]) -> str:
    while True:
        item = await queue.get()
        if item.get("event") == "ota_error":
            return str(item.get("msg") or "the update failed")
