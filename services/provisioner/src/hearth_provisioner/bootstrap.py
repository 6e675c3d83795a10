"""Composition root of the provisioner service: real adapters by default, fakes in tests."""

from __future__ import annotations

from typing import ClassVar

from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings


class Provisioner(BusService):
    name: ClassVar[str] = "provisioner"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS", "HEARTH_TASKS")
    buckets: ClassVar[tuple[str, ...]] = ("hearth_agents",)
    consumers: ClassVar[tuple[str, ...]] = ()
    uses_database: ClassVar[bool] = False


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> Provisioner:
    return Provisioner(settings, metrics)
