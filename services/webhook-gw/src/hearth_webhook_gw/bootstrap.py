"""Composition root of the webhook-gw service: real adapters by default, fakes in tests."""

from __future__ import annotations

from typing import ClassVar

from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings


class WebhookGateway(BusService):
    name: ClassVar[str] = "webhook-gw"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ()
    consumers: ClassVar[tuple[str, ...]] = ()
    uses_database: ClassVar[bool] = False


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> WebhookGateway:
    return WebhookGateway(settings, metrics)
