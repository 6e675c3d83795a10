"""The device-manager's event store (schema ``device_manager``) and its async face.

eventsourcing is synchronous: every call runs in a worker thread. Writes are serialised in
this process and retried when another instance saved the same aggregate first; ``act``
calls that queue up are saved together (``hearth_eventstore.writes``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import hearth_device_manager.domain.legacy  # noqa: F401  (reads pre-named-event records)
from hearth_device_manager.domain.device import (
    INDEX_ID,
    Device,
    DeviceIndex,
    Found,
    ReleaseReason,
    device_uuid,
    normal_mac,
)
from hearth_eventstore.store import HearthApplication, Meta
from hearth_eventstore.writes import Writes

SCHEMA = "device_manager"
T = TypeVar("T")


@dataclass(frozen=True)
class Discovered:
    device: Device
    new: bool
    moved: bool
    #: Adopted (or renamed, or given another secret) by this discovery.
    adopted: bool = False


#: Aggregates saved in one transaction when many devices change at once (a declaration of
#: thousands of devices must not be thousands of round trips).
SAVE_BATCH = 500


class DeviceManagerApplication(HearthApplication):
    # Devices and the index are read far more often than they change; every read from the
    # cache still fast-forwards over events another instance stored meanwhile.
    env = {"AGGREGATE_CACHE_MAXSIZE": "100000"}

    def index(self) -> DeviceIndex:
        index: DeviceIndex | None = self._get(INDEX_ID)
        return index if index is not None else DeviceIndex()

    def device(self, mac: str) -> Device | None:
        found: Device | None = self._get(device_uuid(mac))
        return found

    def device_by_id(self, device_id: str) -> Device | None:
        mac = self.index().macs.get(device_id)
        return self.device(mac) if mac else None

    def devices(self) -> list[Device]:
        found = [self.device(mac) for mac in self.index().macs.values()]
        return [d for d in found if d is not None]

    def discover(self, found: Found, meta: Meta) -> Discovered:
        (result,) = self.discover_all([found], meta)
        return result

    def discover_all(
        self,
        founds: list[Found],
        meta: Meta,
        adopt: Mapping[str, tuple[str, str | None]] | None = None,
    ) -> list[Discovered]:
        """Record what discovery found, and adopt the devices ``adopt`` names (MAC → name,
        password secret): many devices per transaction, the index once."""
        results: list[Discovered] = []
        index = self.index()
        known = set(index.macs.values())
        changed: list[Device] = []
        for found in founds:
            mac = normal_mac(found.mac)
            device = self.device(mac) if mac in known else None
            new = device is None
            if device is None:
                device = Device(mac)
            before = (device.host, device.port)
            touched = device.discover(found, meta)
            if touched:
                index.add(device.device_id, device.mac)
            adopted = False
            if adopt and mac in adopt:
                name, secret = adopt[mac]
                adopted = device.adopt(name, meta)
                adopted = device.use_secret(secret) or adopted
            if touched or adopted:
                changed.append(device)
            moved = not new and before != (device.host, device.port)
            results.append(Discovered(device, new=new, moved=moved, adopted=adopted))
        self._save_all(changed, index)
        return results

    def _save_all(self, aggregates: list[Device], index: DeviceIndex | None = None) -> None:
        if not aggregates:
            return
        for start in range(0, len(aggregates), SAVE_BATCH):
            batch: list[Device | DeviceIndex] = list(aggregates[start : start + SAVE_BATCH])
            if index is not None and start + SAVE_BATCH >= len(aggregates):
                batch.append(index)
            self.save(*batch)

    def declare(self, specs: dict[str, dict[str, Any]]) -> bool:
        index = self.index()
        changed = index.declare(specs)
        if changed:
            self.save(index)
        return changed

    def declare_source(
        self, source: dict[str, Any] | None, repository: dict[str, Any] | None
    ) -> bool:
        index = self.index()
        changed = index.declare_source(source, repository)
        if changed:
            self.save(index)
        return changed

    def adopt(
        self, mac: str, name: str, meta: Meta, password_secret: str | None = None
    ) -> tuple[Device, bool]:
        (result,) = self.adopt_all([(mac, name, password_secret)], meta)
        return result

    def adopt_all(
        self, wanted: list[tuple[str, str, str | None]], meta: Meta
    ) -> list[tuple[Device, bool]]:
        """Adopt devices by (MAC, name, password secret), many per transaction."""
        results: list[tuple[Device, bool]] = []
        for mac, name, password_secret in wanted:
            device = self.device(normal_mac(mac))
            if device is None:
                raise LookupError(f"no device with MAC {mac} was discovered")
            changed = device.adopt(name, meta)
            changed = device.use_secret(password_secret) or changed
            results.append((device, changed))
        self._save_all([device for device, changed in results if changed])
        return results

    def release_all(self, wanted: list[tuple[str, ReleaseReason, str]], meta: Meta) -> list[Device]:
        """Release devices by (MAC, reason, detail), many per transaction; the ones that
        were managed (now released)."""
        released: list[Device] = []
        for mac, reason, detail in wanted:
            device = self.device(normal_mac(mac))
            if device is not None and device.release(reason, meta, detail):
                released.append(device)
        self._save_all(released)
        return released

    def act(self, mac: str, action: Callable[[Device], T]) -> T:
        """Run a command on the device and save what it recorded (nothing: no change)."""
        device = self.device(mac)
        if device is None:
            raise LookupError(f"no device with MAC {mac}")
        result = action(device)
        self.save(device)
        return result

    def presence(
        self, mac: str, online: bool, meta: Meta, last_seen: datetime | None = None
    ) -> bool:
        return self.presence_all([(mac, online, last_seen)], meta) > 0

    def presence_all(self, changes: list[tuple[str, bool, datetime | None]], meta: Meta) -> int:
        """Record presence transitions (MAC, online, last seen), many per transaction;
        how many became events."""
        devices: dict[str, Device | None] = {}
        changed: dict[str, Device] = {}
        for mac, online, last_seen in changes:
            if mac not in devices:
                devices[mac] = self.device(mac)
            device = devices[mac]
            if device is None or not device.adopted:
                continue  # released since the transition was seen
            if device.went_online(meta) if online else device.went_offline(meta, last_seen):
                changed[mac] = device
        self._save_all(list(changed.values()))
        return len(changed)


class DeviceStore:
    """The application, called from asyncio.

    Writes are serialised. ``act`` calls that queue up meanwhile (an apply to a thousand
    devices, each recording a few events) are saved together, one transaction for all that
    waited, instead of one commit each; an action that raises sends the batch back to one
    call each, so every caller gets its own result or exception as before."""

    def __init__(self, app: DeviceManagerApplication) -> None:
        self.app = app
        self._writes = Writes(app, name="device-store-writes")

    async def read(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(call, *args)

    async def write(self, call: Callable[..., T], *args: Any) -> T:
        if call == self.app.act:
            return await self._writes.batched(call, *args)
        return await self._writes.alone(call, *args)
