"""The device-manager's event store (schema ``device_manager``) and its async face.

eventsourcing is synchronous: every call runs in a worker thread. Writes are serialised in
this process and retried when another instance saved the same aggregate first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

import hearth_device_manager.domain.legacy  # noqa: F401  (reads pre-named-event records)
from hearth_device_manager.domain.device import (
    INDEX_ID,
    Device,
    DeviceIndex,
    Found,
    device_uuid,
    normal_mac,
)
from hearth_eventstore.store import HearthApplication, Meta

SCHEMA = "device_manager"
_CONFLICT_RETRIES = 5
T = TypeVar("T")


@dataclass(frozen=True)
class Discovered:
    device: Device
    new: bool
    moved: bool


class DeviceManagerApplication(HearthApplication):
    def _get(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

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
        device = self.device(found.mac)
        new = device is None
        if device is None:
            device = Device(found.mac)
        before = (device.host, device.port)
        if device.discover(found, meta):
            index = self.index()
            index.add(device.device_id, device.mac)
            self.save(device, index)
        return Discovered(device, new=new, moved=not new and before != (device.host, device.port))

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
        device = self.device(normal_mac(mac))
        if device is None:
            raise LookupError(f"no device with MAC {mac} was discovered")
        changed = device.adopt(name, meta)
        changed = device.use_secret(password_secret) or changed
        if changed:
            self.save(device)
        return device, changed

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
        device = self.device(mac)
        if device is None:
            return False
        changed = device.went_online(meta) if online else device.went_offline(meta, last_seen)
        if changed:
            self.save(device)
        return changed


class DeviceStore:
    """The application, called from asyncio."""

    def __init__(self, app: DeviceManagerApplication) -> None:
        self.app = app
        self._writes = asyncio.Lock()

    async def read(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(call, *args)

    async def write(self, call: Callable[..., T], *args: Any) -> T:
        async with self._writes:
            for attempt in range(_CONFLICT_RETRIES):
                try:
                    return await asyncio.to_thread(call, *args)
                except IntegrityError:
                    if attempt == _CONFLICT_RETRIES - 1:
                        raise
                    await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")
