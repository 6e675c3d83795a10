"""A device manager on real parts: NATS, PostgreSQL and simulated Shelly devices."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats

from hearth_device_manager.bootstrap import DeviceManager
from hearth_device_manager.settings import DeviceManagerSettings
from hearth_events import Envelope, parse_event
from hearth_events.jetstream import BUCKETS, DEVICE_STATUS_BUCKET, STREAMS, ensure
from hearth_servicekit import ServiceMetrics
from hearth_servicekit.secrets import SecretBox, scope_key
from tests.support.services import TEST_SECRET_KEY, scoped_secrets

WAIT_S = 20


@dataclass
class World:
    nats_url: str
    database_url: str
    data_dir: Path
    nc: Any = None
    js: Any = None
    events: list[Envelope] = field(default_factory=list)
    managers: list[DeviceManager] = field(default_factory=list)

    async def open(self) -> None:
        self.nc = await nats.connect(self.nats_url)
        self.js = self.nc.jetstream()
        await ensure(self.js, streams=tuple(STREAMS), buckets=tuple(BUCKETS))
        self._changed = asyncio.Condition()
        await self.nc.subscribe("hearth.evt.device.>", cb=self._on_event)
        self.kv = await self.js.key_value(DEVICE_STATUS_BUCKET)

    async def _on_event(self, message: Any) -> None:
        self.events.append(parse_event(message.data))
        async with self._changed:
            self._changed.notify_all()

    async def close(self) -> None:
        for manager in self.managers:
            await manager.stop()
        await self.nc.close()

    async def start(self, **options: Any) -> DeviceManager:
        defaults: dict[str, Any] = {
            "discovery_mdns": False,
            "presence_window_s": 0,
            "reconnect_first_s": 0.05,
            "reconnect_max_s": 0.2,
            "discovery_ports": [],
        }
        settings = DeviceManagerSettings(
            nats_url=self.nats_url,
            database_url=self.database_url,
            scope_key=scope_key(TEST_SECRET_KEY, "device-manager"),
            data_dir=self.data_dir,
            instance="device-manager-test",
            shutdown_grace_s=5,
            **{**defaults, **options},
        )
        manager = DeviceManager(
            settings,
            ServiceMetrics("device-manager"),
            SecretBox.for_scope(TEST_SECRET_KEY, "device-manager"),
        )
        await manager.start()
        self.managers.append(manager)
        return manager

    async def secret(self, name: str, value: str) -> None:
        await scoped_secrets(self.js, "device-manager").put(name, value.encode())

    async def command(self, command: str, /, **body: Any) -> dict[str, Any]:
        reply = await self.nc.request(
            f"hearth.cmd.device.{command}", json.dumps(body).encode(), timeout=WAIT_S
        )
        result: dict[str, Any] = json.loads(reply.data)
        return result

    def named(self, event_type: str, device_id: str | None = None) -> list[Envelope]:
        return [
            e
            for e in self.events
            if e.type == event_type and (device_id is None or e.key == device_id)
        ]

    async def wait_events(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_status(
        self, device_id: str, predicate: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """The device's status in the KV bucket once ``predicate`` holds (a KV watch)."""
        watcher = await self.kv.watch(device_id)
        try:
            async with asyncio.timeout(WAIT_S):
                async for entry in watcher:
                    if entry is None or not entry.value:  # caught up, or deleted
                        continue
                    status: dict[str, Any] = json.loads(entry.value)
                    if predicate(status):
                        return status
        finally:
            await watcher.stop()
        raise AssertionError("watch ended")
