"""Composition root of the query API: read models, REST API, live feed, dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from typing import Any, ClassVar

import asyncpg
from aiohttp import web

from hearth_events import command_subject
from hearth_events.jetstream import DEVICE_STATUS_BUCKET, EVENTS_STREAM
from hearth_query_api.adapters.live_status import KvLiveStatus
from hearth_query_api.adapters.samples import StatusSampler
from hearth_query_api.adapters.schema import SCHEMA, migrate
from hearth_query_api.entrypoints.api.docs import install_docs
from hearth_query_api.entrypoints.api.endpoints import Endpoints
from hearth_query_api.entrypoints.api.framework import add_routes
from hearth_query_api.entrypoints.api.openapi import build_openapi
from hearth_query_api.entrypoints.dashboard import Dashboard
from hearth_query_api.handlers import (
    CreateToken,
    ListTokens,
    Projector,
    RebuildProjections,
    RevokeToken,
    create_api_token,
    list_api_tokens,
    revoke_api_token,
)
from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings
from hearth_servicekit.commands import serve_command
from hearth_servicekit.faults import fault_point
from hearth_servicekit.publishing import JetStreamSink


class QueryApi(BusService):
    name: ClassVar[str] = "query-api"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = (DEVICE_STATUS_BUCKET,)
    consumers: ClassVar[tuple[str, ...]] = ("query-api-projections",)
    uses_database: ClassVar[bool] = True

    def __init__(self, settings: ServiceSettings, metrics: ServiceMetrics) -> None:
        super().__init__(settings, metrics)
        self.pool: Any = None
        self.projector: Projector | None = None
        self.sampler: StatusSampler | None = None
        self._stream_last_seq = 0
        self.endpoints = Endpoints(None, None, f"{self.name}/{settings.instance}")  # type: ignore[arg-type]
        self._lag = metrics.gauge(
            "hearth_projection_lag_events", "Events in the stream not yet projected"
        )

    async def on_start(self) -> None:
        if self.settings.database_url is None:
            raise RuntimeError("HEARTH_DATABASE_URL is not set; the query API needs PostgreSQL")
        self.pool = await asyncpg.create_pool(
            self.settings.database_url.get_secret_value(),
            min_size=1,
            max_size=10,
            server_settings={"search_path": SCHEMA},
        )
        async with self.pool.acquire() as conn:
            await migrate(conn)
        self.endpoints.pool = self.pool
        self.endpoints.nc = self.nc
        self.endpoints.live = KvLiveStatus(self.js)
        self.endpoints.sink = JetStreamSink(self.js)
        self.projector = Projector(self.pool, self.js)
        await self.projector.load_position()
        for command, model, handler in (
            ("CreateToken", CreateToken, create_api_token),
            ("ListTokens", ListTokens, list_api_tokens),
            ("RevokeToken", RevokeToken, revoke_api_token),
        ):
            await serve_command(
                self.nc,
                command_subject("query", command),
                model,
                functools.partial(handler, self.pool),
                queue=self.name,
            )
        await serve_command(
            self.nc,
            command_subject("query", "RebuildProjections"),
            RebuildProjections,
            self._rebuild,
            queue=self.name,
        )
        self.consume(
            "query-api-projections",
            self._project,
            with_sequence=True,
            batch=256,
            batch_handler=self._project_batch,
            read_ahead=True,
        )
        self.spawn(self._watch_lag(), "watch-lag")
        self.sampler = StatusSampler(self.js, self.pool)
        self.spawn(self.sampler.run(self.stopping), "sample-device-status")

    def routes(self, app: web.Application) -> None:
        routes = self.endpoints.routes()
        add_routes(app, routes, lambda: self.endpoints.pool if self.started.is_set() else None)
        document = build_openapi(routes, version="0.1.0")

        async def openapi(_: web.Request) -> web.Response:
            return web.json_response(document)

        app.router.add_get("/api/openapi.json", openapi)
        install_docs(app)
        app.on_shutdown.append(self._end_feeds)
        Dashboard(
            self.endpoints,
            lambda: self.endpoints.pool if self.started.is_set() else None,
            secure_cookie=self.settings.public_url.startswith("https://"),
        ).install(app)

    async def _rebuild(self, _: RebuildProjections) -> dict[str, Any]:
        assert self.projector is not None
        started = time.perf_counter()
        events = await self.projector.rebuild(self.js)
        return {"events": events, "seconds": round(time.perf_counter() - started, 3)}

    async def _project(self, envelope: Any, seq: int) -> None:
        await self._project_batch([(envelope, seq)])

    async def _project_batch(self, batch: list[tuple[Any, int]]) -> None:
        """What arrived together is projected in one transaction: one commit, not many."""
        assert self.projector is not None
        applied = await self.projector.apply_many(batch)
        fault_point("project.committed_before_ack")
        self.endpoints.broadcaster.publish_applied(applied)

    async def _watch_lag(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(Exception):
                self._stream_last_seq = (await self.js.stream_info(EVENTS_STREAM)).state.last_seq
                self._lag.set(self.lag())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 1.0)

    def lag(self) -> int:
        position = self.projector.position if self.projector else 0
        return max(self._stream_last_seq - position, 0)

    def details(self) -> dict[str, object]:
        position = self.projector.position if self.projector else 0
        return {
            "projection": {
                "position": position,
                "stream_last_seq": self._stream_last_seq,
                "lag": self.lag(),
            }
        }

    async def _end_feeds(self, _: web.Application) -> None:
        self.endpoints.broadcaster.close()

    async def on_stop(self) -> None:
        # Open live feeds end first: aiohttp would otherwise wait a minute for each.
        self.endpoints.broadcaster.close()
        if self.pool is not None:
            await self.pool.close()


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> QueryApi:
    return QueryApi(settings, metrics)
