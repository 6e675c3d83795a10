"""The device manager's reactions: a device found, adopted, connected, changed or lost.

Coordinators call the observer methods synchronously (from aioshelly's callbacks); each
becomes an item on one queue that a single worker handles in order, so a device's status
writes and presence events never overtake each other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from hearth_device_manager.adapters.coordinator import Backoff, Coordinator, Sleep
from hearth_device_manager.adapters.ports import Connector, LinkTarget, StatusWriter, WakeSource
from hearth_device_manager.adapters.store import DeviceStore
from hearth_device_manager.domain.desired.catalog import find_model
from hearth_device_manager.domain.device import Device, Found, ReleaseReason, normal_mac
from hearth_device_manager.domain.errors import DeviceError, WrongCredentials
from hearth_device_manager.domain.presence import Presence
from hearth_device_manager.domain.status import compact_status
from hearth_events.catalogue import DeviceSpec
from hearth_eventstore.store import Meta
from hearth_servicekit import get_logger

log = get_logger("hearth.device_manager")
STOP_GRACE_S = 5.0


class Secrets(Protocol):
    async def get(self, name: str) -> bytes | None: ...


class ConfigWatch(Protocol):
    """What the desired-config side (``convergence``/``desired_sync``) hears from here."""

    def claim(self, device: Device) -> tuple[str, str | None] | None:
        """(name, password secret) when the desired-config repository names the device."""
        ...

    def seen(self, device_id: str, connected: bool, status: dict[str, Any]) -> None:
        """A device connected (``connected``) or sent a status: its cfg_rev may have moved."""
        ...

    def released(self, device_id: str) -> None:
        """The device is no longer managed, or Git no longer has a desired config for it:
        forget what was compared of it."""
        ...


@dataclass
class Live:
    """What the handlers know of one adopted device between events."""

    device: Device
    presence: Presence
    status: dict[str, Any] | None = None
    error: str | None = None
    logged: set[str] = field(default_factory=set)
    last_seen: datetime | None = None


@dataclass(frozen=True)
class Timing:
    presence_window_s: float = 30.0
    backoff: Backoff = field(default_factory=Backoff)
    connect_concurrency: int = 16
    sleep: Sleep = field(default_factory=Sleep)


def spec_matches(spec: DeviceSpec, device: Device | Found) -> bool:
    if spec.mac:
        try:
            return normal_mac(spec.mac) == normal_mac(device.mac)
        except ValueError:
            return False
    return spec.device_id == device.device_id


def adoptions(founds: list[Found], specs: list[DeviceSpec]) -> dict[str, tuple[str, str | None]]:
    """Which of the found devices a declaration names: MAC → (name, password secret)."""
    by_mac: dict[str, DeviceSpec] = {}
    by_id: dict[str, DeviceSpec] = {}
    for spec in specs:
        if spec.mac:
            with suppress(ValueError):
                by_mac.setdefault(normal_mac(spec.mac), spec)
        elif spec.device_id:
            by_id.setdefault(spec.device_id, spec)
    wanted: dict[str, tuple[str, str | None]] = {}
    for found in founds:
        mac = normal_mac(found.mac)
        named = by_mac.get(mac) or by_id.get(found.device_id)
        if named is not None:
            wanted[mac] = (named.name, named.password_secret)
    return wanted


class DeviceHandlers:
    def __init__(
        self,
        store: DeviceStore,
        connector: Connector,
        writer: StatusWriter,
        secrets: Secrets,
        *,
        timing: Timing | None = None,
        clock: Callable[[], float] = time.monotonic,
        actor: str = "device-manager",
        wakes: WakeSource | None = None,
    ) -> None:
        self.store = store
        self._connector = connector
        self._writer = writer
        self._secrets = secrets
        self._timing = timing = timing or Timing()
        self._clock = clock
        self._actor = actor
        self._wakes = wakes
        self._gate = asyncio.Semaphore(timing.connect_concurrency)
        self._queue: asyncio.Queue[tuple[str, str, Any]] = asyncio.Queue()
        self.live: dict[str, Live] = {}
        self.coordinators: dict[str, tuple[Coordinator, asyncio.Task[None]]] = {}
        self._worker: asyncio.Task[None] | None = None
        self._announcements: list[tuple[str, bool, datetime | None]] = []
        self._announcing: asyncio.Task[None] | None = None
        #: Called with every new status of a device, in order (firmware offers, ...).
        self.status_hooks: list[Callable[[str, dict[str, Any]], Awaitable[None]]] = []
        #: Set by the bootstrap when desired config is wired (drift and apply).
        self.watch: ConfigWatch | None = None

    def meta(self, actor: str | None = None) -> Meta:
        return Meta(actor=actor or self._actor)

    # -- life ------------------------------------------------------------------------
    async def start(self) -> None:
        self._worker = asyncio.create_task(self._work(), name="device-events")
        for device in await self.store.read(self.store.app.devices):
            if device.adopted:
                self._follow(device)

    async def _record_presence(self) -> None:
        """Presence transitions become events in batches: a fleet coming online at once is
        a few transactions, and status keeps flowing meanwhile."""
        while self._announcements:
            batch, self._announcements = self._announcements, []
            try:
                await self.store.write(self.store.app.presence_all, batch, self.meta())
            except Exception:  # the store is away; the next transition tries again
                log.exception("presence not recorded", devices=len(batch))

    async def stop(self) -> None:
        if self._announcing is not None:
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._announcing), STOP_GRACE_S)
        tasks = [task for _, task in self.coordinators.values()]
        if self._worker is not None:
            tasks.append(self._worker)
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
            if pending:  # a device client that ignores cancellation must not hold us
                log.warning("devices still stopping", devices=sorted(t.get_name() for t in pending))
        self.coordinators.clear()

    def _follow(self, device: Device) -> None:
        live = self.live.get(device.device_id)
        if live is None:
            live = Live(device, Presence(self._timing.presence_window_s))
            live.presence.announced = device.online
            self.live[device.device_id] = live
        else:
            live.device = device
        if device.device_id in self.coordinators:
            return
        coordinator = Coordinator(
            device.device_id,
            lambda: self._target(device.device_id),
            self._connector,
            self,
            gate=self._gate,
            backoff=self._timing.backoff,
            wakes=self._wakes,
            sleep=self._timing.sleep,
            learned=lambda period_s: self._queue.put_nowait((device.device_id, "period", period_s)),
        )
        task = asyncio.create_task(coordinator.run(), name=f"device:{device.device_id}")
        self.coordinators[device.device_id] = (coordinator, task)

    async def _target(self, device_id: str) -> LinkTarget:
        device = self.live[device_id].device
        password = None
        if device.password_secret:
            secret = await self._secrets.get(device.password_secret)
            if secret is None:
                raise WrongCredentials(
                    f"{device_id}: secret {device.password_secret} is not stored "
                    "(scope device-manager)"
                )
            password = secret.decode()
        spec = find_model(device.model) if device.model else None
        sleeping = device.sleeping or (spec is not None and spec.sleeping)
        return LinkTarget(
            device_id,
            device.mac,
            device.generation,
            device.host,
            device.port,
            password,
            sleeping,
            device.wake_period_s,
        )

    # -- discovery and adoption ----------------------------------------------------------
    async def found(self, found: Found, actor: str | None = None) -> Device:
        """A device answered: record it once (by MAC), follow it when it moved, and adopt
        it when hearth.yaml declares it."""
        (device,) = await self.found_all([found], actor)
        return device

    async def found_all(
        self,
        founds: list[Found],
        actor: str | None = None,
        declared: list[DeviceSpec] | None = None,
    ) -> list[Device]:
        """``found`` for many devices at once, discovered and adopted (when ``declared``,
        else the stored declaration, names them) in one write per few hundred devices."""
        if declared is None:
            index = await self.store.read(self.store.app.index)
            declared = [DeviceSpec.model_validate(d) for d in index.declared.values()]
        results = await self.store.write(
            self.store.app.discover_all, founds, self.meta(actor), adoptions(founds, declared)
        )
        devices = [result.device for result in results]
        claimed: list[tuple[int, Device, str, str | None]] = []
        for position, result in enumerate(results):
            if result.adopted:
                self._adopted(result.device, changed=True)
            elif result.device.adopted:
                self._moved(result.device, result.moved)
            elif self.watch is not None:  # named by the desired-config repository
                claim = self.watch.claim(result.device)
                if claim is not None:
                    claimed.append((position, result.device, *claim))
        adopted = await self.adopt_all([c[1:] for c in claimed], actor)
        for (position, *_), (device, _) in zip(claimed, adopted, strict=True):
            devices[position] = device
        return devices

    def _moved(self, device: Device, moved: bool) -> None:
        live = self.live.get(device.device_id)
        if live is None:
            return
        live.device = device
        if moved:
            log.info("device moved", device=device.device_id, address=device.address)
            self.coordinators[device.device_id][0].retry_now()

    async def adopt(
        self,
        device: Device,
        name: str,
        password_secret: str | None = None,
        actor: str | None = None,
    ) -> tuple[Device, bool]:
        (result,) = await self.adopt_all([(device, name, password_secret)], actor)
        return result

    async def adopt_all(
        self, wanted: list[tuple[Device, str, str | None]], actor: str | None = None
    ) -> list[tuple[Device, bool]]:
        if not wanted:
            return []
        results = await self.store.write(
            self.store.app.adopt_all,
            [(device.mac, name, secret) for device, name, secret in wanted],
            self.meta(actor),
        )
        for adopted, changed in results:
            self._adopted(adopted, changed)
        return results

    def _adopted(self, device: Device, changed: bool) -> None:
        self._follow(device)
        if changed and device.device_id in self.coordinators:
            self.coordinators[device.device_id][0].retry_now()

    async def release_all(
        self, wanted: list[tuple[Device, ReleaseReason, str]], actor: str | None = None
    ) -> list[Device]:
        """Stop managing these devices: record ``DeviceReleased``, close each one's
        connection and remove its live status. The released ones are returned."""
        if not wanted:
            return []
        released: list[Device] = await self.store.write(
            self.store.app.release_all,
            [(device.mac, reason, detail) for device, reason, detail in wanted],
            self.meta(actor),
        )
        reasons = {device.mac: reason for device, reason, _ in wanted}
        for device in released:
            await self._unfollow(device.device_id)
            log.info("device released", device=device.device_id, reason=reasons[device.mac])
        return released

    async def _unfollow(self, device_id: str) -> None:
        entry = self.coordinators.pop(device_id, None)
        self.live.pop(device_id, None)
        if entry is not None:
            entry[1].cancel()
            await asyncio.wait([entry[1]], timeout=STOP_GRACE_S)
        await self._writer.forget(device_id)
        if self.watch is not None:
            self.watch.released(device_id)

    # -- coordinator observer (sync, from callbacks) --------------------------------------
    def connected(self, device_id: str, status: dict[str, Any]) -> None:
        self._queue.put_nowait((device_id, "connected", status))

    def changed(self, device_id: str, status: dict[str, Any]) -> None:
        self._queue.put_nowait((device_id, "changed", status))

    def lost(self, device_id: str, error: DeviceError) -> None:
        self._queue.put_nowait((device_id, "lost", error))

    async def _work(self) -> None:
        while True:
            device_id, kind, payload = await self._queue.get()
            try:
                await self._handle(device_id, kind, payload)
            except Exception:  # one device's trouble must not stop the others'
                log.exception("device event failed", device=device_id, kind=kind)

    async def _handle(self, device_id: str, kind: str, payload: Any) -> None:
        live = self.live.get(device_id)
        if live is None:
            return
        if kind == "period":
            await self._remember_period(live, payload)
            return
        now = self._clock()
        if kind in ("connected", "changed"):
            live.status, live.error = dict(payload), None
            live.last_seen = datetime.now(UTC)
            live.logged.clear()
            live.presence.observe(True, now)
            for hook in self.status_hooks:
                await hook(device_id, live.status)
        elif kind == "lost":
            error: DeviceError = payload
            if error.kind not in live.logged:  # once per kind until the device is back
                live.logged.add(error.kind)
                level = log.warning if not error.transient else log.info
                level("device unavailable", device=device_id, error=error.kind, reason=str(error))
            live.error = error.kind
            live.presence.observe(False, now)
        elif kind != "tick":
            return
        if self.live.get(device_id) is not live:
            return  # released while a status hook ran: its key stays deleted
        online = live.presence.observed is True
        device = live.device
        await self._writer.write(
            device_id,
            compact_status(
                online=online,
                address=device.address,
                model=device.model,
                generation=device.generation,
                status=live.status if online else None,
                error=live.error,
            ),
        )
        await self._announce(live, now)
        if self.watch is not None and kind in ("connected", "changed") and live.status:
            self.watch.seen(device_id, kind == "connected", live.status)

    async def _remember_period(self, live: Live, period_s: float) -> None:
        def learn(device: Device) -> bool:
            return device.learn_wake_period(period_s)

        if await self.store.write(self.store.app.act, live.device.mac, learn):
            fresh: Device | None = await self.store.read(self.store.app.device, live.device.mac)
            live.device = fresh or live.device

    async def _announce(self, live: Live, now: float) -> None:
        transition = live.presence.transition(now)
        if transition is not None:
            last_seen = None if transition else live.last_seen
            self._announcements.append((live.device.mac, transition, last_seen))
            if self._announcing is None or self._announcing.done():
                self._announcing = asyncio.create_task(self._record_presence())
            return
        due = live.presence.due_at()
        if due is not None:
            asyncio.get_running_loop().call_later(
                max(0.0, due - now),
                self._queue.put_nowait,
                (live.device.device_id, "tick", None),
            )
