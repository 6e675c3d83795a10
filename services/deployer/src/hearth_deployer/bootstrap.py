"""Composition root of the deployer service: real adapters by default, fakes in tests."""

from __future__ import annotations

from typing import ClassVar

from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings


class Deployer(BusService):
    name: ClassVar[str] = "deployer"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ("hearth_locks",)
    consumers: ClassVar[tuple[str, ...]] = ("deployer",)
    uses_database: ClassVar[bool] = True


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> Deployer:
    return Deployer(settings, metrics)
