"""Fleet operations on one device: snapshots (backups), restore, import, and the firmware
offers seen in status. They talk to devices through the coordinators' open links and record
into the device manager's event store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from hearth_device_manager.adapters.coordinator import Coordinator
from hearth_device_manager.adapters.ports import DeviceLink
from hearth_device_manager.domain.backup import Backup, rebind, spec_for
from hearth_device_manager.domain.desired import changes_to_apply, diff, from_device, to_toml
from hearth_device_manager.domain.device import Device
from hearth_device_manager.domain.fleet import DeviceOps, offers_in, ops_uuid
from hearth_device_manager.handlers import DeviceHandlers, spec_matches
from hearth_events.catalogue import DeviceSpec
from hearth_servicekit import get_logger

log = get_logger("hearth.device_manager")

#: How long a device may take to come back after a restore that needed a reboot.
RECONNECT_S = 120.0


class Refused(ValueError):
    """An operation that cannot be done: one line saying why and what to do."""


class Fleet:
    """Lookups shared by the operations: the device, its coordinator, its open link."""

    def __init__(self, handlers: DeviceHandlers) -> None:
        self.handlers = handlers
        self.store = handlers.store

    async def device(self, device_id: str) -> Device:
        live = self.handlers.live.get(device_id)
        if live is not None:  # its MAC is known: no read of the whole fleet's index
            device = await self.store.read(self.store.app.device, live.device.mac)
        else:
            device = await self.store.read(self.store.app.device_by_id, device_id)
        if device is None or not device.adopted:
            raise Refused(f"no adopted device {device_id}; discover and adopt it first")
        return device

    def coordinator(self, device_id: str) -> Coordinator:
        entry = self.handlers.coordinators.get(device_id)
        if entry is None:
            raise Refused(f"{device_id} is not connected yet; try again when it is online")
        return entry[0]

    def link(self, device_id: str) -> DeviceLink:
        link = self.coordinator(device_id).link
        if link is None:
            raise Refused(f"{device_id} is offline; try again when it is online")
        return link

    async def group(self, group: str) -> list[str]:
        """The adopted devices hearth.yaml's ``devices:`` puts in ``group``."""
        index = await self.store.read(self.store.app.index)
        specs = [DeviceSpec.model_validate(d) for d in index.declared.values()]
        members = [s for s in specs if group in s.groups]
        devices = await self.store.read(self.store.app.devices)
        found = [
            d.device_id for d in devices if d.adopted and any(spec_matches(s, d) for s in members)
        ]
        if not found:
            raise Refused(f"no adopted device is in group {group} (hearth.yaml devices: groups)")
        return found

    async def record(self, mac: str, change: Callable[[DeviceOps], object]) -> None:
        """Apply ``change`` to the device's ``DeviceOps`` and save it, in one go: a write
        that conflicts with another is retried on a fresh copy (``DeviceStore.write``)."""
        app = self.store.app

        def run() -> None:
            found: DeviceOps | None = app._get(ops_uuid(mac))
            ops = found if found is not None else DeviceOps(mac)
            if change(ops) is not False:
                app.save(ops)

        await self.store.write(run)

    async def save(self, *aggregates: Any) -> None:
        await self.store.write(self.store.app.save, *aggregates)


class Snapshots:
    """Full config snapshots, for ``Backup`` and before anything that changes a device."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    async def take(
        self, device_id: str, reason: str = "manual", actor: str | None = None
    ) -> Backup:
        device = await self.fleet.device(device_id)
        link = self.fleet.link(device_id)
        config = await link.read_config()
        backup = Backup.take(
            device_id,
            device.mac,
            config=config,
            info=link.info,
            reason=reason,
            meta=self.fleet.handlers.meta(actor),
        )
        await self.fleet.save(backup)
        return backup

    async def get(self, backup_id: str) -> Backup:
        try:
            aggregate_id = Backup.create_id(backup_id)
        except ValueError:
            raise Refused(f"{backup_id!r} is not a backup id") from None
        found: Backup | None = await self.fleet.store.read(self.fleet.store.app._get, aggregate_id)
        if not isinstance(found, Backup):
            raise Refused(f"no backup {backup_id}")
        return found


class Operations:
    def __init__(self, fleet: Fleet, snapshots: Snapshots) -> None:
        self.fleet = fleet
        self.snapshots = snapshots

    async def import_config(self, device_id: str, actor: str | None = None) -> dict[str, Any]:
        """The device's config as the typed model and as ``devices/<name>.toml``."""
        device = await self.fleet.device(device_id)
        raw = await self.fleet.link(device_id).read_config()
        spec = spec_for(device.model, raw)
        if spec is None:
            raise Refused(f"{device_id}: model {device.model} has no typed config model yet")
        config = from_device(raw, spec)
        text = to_toml(config, spec, mac=device.mac, device_id=device.device_id)
        dumped = config.model_dump(mode="json", exclude_none=True)
        meta = self.fleet.handlers.meta(actor)
        await self.fleet.record(device.mac, lambda ops: ops.imported(device_id, dumped, meta))
        name = device.name or device.device_id
        return {"name": name, "path": f"devices/{name}.toml", "toml": text, "config": dumped}

    async def restore(
        self, device_id: str, backup_id: str, actor: str | None = None
    ) -> dict[str, Any]:
        """Write ``backup_id`` to ``device_id`` (its own device or a replacement of the
        same model), after a safety backup; only differing fields are sent."""
        backup = await self.snapshots.get(backup_id)
        device = await self.fleet.device(device_id)
        if backup.model and device.model and backup.model != device.model:
            raise Refused(
                f"backup {backup_id} is of a {backup.model}; {device_id} is a {device.model}"
            )
        coordinator = self.fleet.coordinator(device_id)
        link = self.fleet.link(device_id)
        current = await link.read_config()
        wanted = backup.config
        if backup.device_id != device.device_id:
            wanted = rebind(wanted, (backup.device_id, backup.mac), (device.device_id, device.mac))
        spec = spec_for(device.model, wanted)
        if spec is None or spec != spec_for(device.model, current):
            raise Refused(
                f"{device_id}: the backup's device profile differs from the device's "
                "(or the model has no typed config model); change the profile first"
            )
        safety = await self.snapshots.take(device_id, "before_restore", actor)
        desired = from_device(wanted, spec)
        diffs = diff(desired, from_device(current, spec))
        calls = changes_to_apply(diffs, spec, desired, from_device(current, spec))
        if calls:
            connections = coordinator.connections
            if await link.send(calls):
                await link.reboot()
                async with asyncio.timeout(RECONNECT_S):
                    link = await coordinator.wait_link(connections)
            left = diff(desired, from_device(await link.read_config(), spec))
            if left:
                paths = ", ".join(d.path for d in left)
                raise Refused(
                    f"{device_id}: restore incomplete, the device kept {paths}; "
                    f"safety backup {safety.backup_id}"
                )
        fields = [d.path for d in diffs]
        meta = self.fleet.handlers.meta(actor)
        await self.fleet.record(
            device.mac,
            lambda ops: ops.restored(device_id, backup_id, backup.device_id, fields, meta),
        )
        return {"fields": fields, "safety_backup_id": safety.backup_id}


class FirmwareWatch:
    """Turns ``sys.available_updates`` in a device's status into ``FirmwareUpdateAvailable``
    when the offer changes. A status hook of the handlers: it only queues the change, so a
    fleet start with thousands of offers does not hold up status writes."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._seen: dict[str, tuple[str, dict[str, str]]] = {}
        self._queue: asyncio.Queue[tuple[str, tuple[str, dict[str, str]]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def status(self, device_id: str, status: dict[str, Any]) -> None:
        offers = offers_in(status)
        coordinator = self.fleet.handlers.coordinators.get(device_id)
        link = coordinator[0].link if coordinator else None
        if not offers or link is None or not link.info.get("ver"):
            return  # nothing offered: nothing to announce, and no store read
        seen = (str(link.info["ver"]), offers)
        if self._seen.get(device_id) == seen:
            return
        self._seen[device_id] = seen
        self._queue.put_nowait((device_id, seen))
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="firmware-offers")

    async def _work(self) -> None:
        while True:
            device_id, (installed, offers) = await self._queue.get()
            try:
                await self._record(device_id, installed, offers)
            except Exception:  # one device's trouble must not stop the others'
                log.exception("firmware offer not recorded", device=device_id)

    async def _record(self, device_id: str, installed: str, offers: dict[str, str]) -> None:
        live = self.fleet.handlers.live.get(device_id)
        if live is None:
            return
        meta = self.fleet.handlers.meta()
        await self.fleet.record(
            live.device.mac, lambda ops: ops.offered(device_id, installed, offers, meta)
        )

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with suppress(asyncio.CancelledError):
                await self._worker
