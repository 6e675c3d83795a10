"""Composition root of the query-api service: real adapters by default, fakes in tests."""

from __future__ import annotations

from typing import ClassVar

from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings


class QueryApi(BusService):
    name: ClassVar[str] = "query-api"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ()
    consumers: ClassVar[tuple[str, ...]] = ("query-api-projections",)
    uses_database: ClassVar[bool] = True


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> QueryApi:
    return QueryApi(settings, metrics)
