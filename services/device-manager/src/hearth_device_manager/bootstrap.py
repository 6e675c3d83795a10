"""Composition root of the device-manager service: real adapters by default, fakes in tests."""

from __future__ import annotations

from typing import ClassVar

from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings


class DeviceManager(BusService):
    name: ClassVar[str] = "device-manager"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ("hearth_device_status",)
    consumers: ClassVar[tuple[str, ...]] = ("device-manager",)
    uses_database: ClassVar[bool] = True


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> DeviceManager:
    return DeviceManager(settings, metrics)
