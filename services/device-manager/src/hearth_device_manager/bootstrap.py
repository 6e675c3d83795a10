"""Composition root of the device-manager service: real adapters by default, fakes in tests."""

from __future__ import annotations

from typing import ClassVar

from hearth_device_manager.store import SCHEMA, DeviceManagerApplication
from hearth_eventstore.relay import Relay
from hearth_eventstore.service import open_when_reachable, start_relay
from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings


class DeviceManager(BusService):
    name: ClassVar[str] = "device-manager"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ("hearth_device_status",)
    consumers: ClassVar[tuple[str, ...]] = ("device-manager",)
    uses_database: ClassVar[bool] = True

    app: DeviceManagerApplication | None = None
    relay: Relay | None = None

    async def on_start(self) -> None:
        self.app = await open_when_reachable(self, DeviceManagerApplication, SCHEMA)
        self.relay = start_relay(self, self.app)

    def details(self) -> dict[str, object]:
        if self.relay is None:
            return {}
        return {"relay": {"leader": self.relay.leader.is_set(), "position": self.relay.position}}


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> DeviceManager:
    return DeviceManager(settings, metrics)
