"""Composition root of the notifier service: real adapters by default, fakes in tests."""

from __future__ import annotations

from typing import ClassVar

from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings


class Notifier(BusService):
    name: ClassVar[str] = "notifier"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ()
    consumers: ClassVar[tuple[str, ...]] = ("notifier",)
    uses_database: ClassVar[bool] = False


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> Notifier:
    return Notifier(settings, metrics)
