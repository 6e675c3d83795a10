"""The life of a service process: settings, logs, health, NATS, declarations, shutdown.

A service subclasses :class:`BusService`, names the streams, buckets and consumers it uses,
and fills in ``on_start``/``on_stop``. ``run_service`` is the whole of its entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from aiohttp import web
from pydantic import ValidationError

from hearth_events.jetstream import ensure
from hearth_servicekit.bus import connect_bus, when_available
from hearth_servicekit.consumer import EventConsumer, Handler, SequencedHandler
from hearth_servicekit.database import postgres_probe
from hearth_servicekit.http import ReadinessProbe, add_health_routes, start_http
from hearth_servicekit.logging import configure_logging, get_logger
from hearth_servicekit.metrics import ServiceMetrics
from hearth_servicekit.settings import ServiceSettings

log = get_logger("hearth.service")


class BusService:
    """A service on the bus. Subclasses set the class attributes and the two hooks."""

    name: ClassVar[str]
    streams: ClassVar[tuple[str, ...]] = ()
    buckets: ClassVar[tuple[str, ...]] = ()
    consumers: ClassVar[tuple[str, ...]] = ()
    uses_database: ClassVar[bool] = False

    def __init__(self, settings: ServiceSettings, metrics: ServiceMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.stopping = asyncio.Event()
        self.nc: Any = None
        self.js: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self.started = asyncio.Event()
        self.crashed = False

    # -- hooks -----------------------------------------------------------------------
    async def on_start(self) -> None:
        """Start consumers and background work (``self.nc``/``self.js`` are ready)."""

    async def on_stop(self) -> None:
        """Release what ``on_start`` took, after background tasks have finished."""

    def routes(self, app: web.Application) -> None:
        """Add the service's own HTTP routes next to the health endpoints."""

    def shares_port(self) -> bool:
        """Whether other processes of this service listen on the same port (SO_REUSEPORT)."""
        return False

    def details(self) -> dict[str, object]:
        """Extra fields for ``/readyz`` (e.g. projection lag)."""
        return {}

    # -- plumbing --------------------------------------------------------------------
    def probes(self) -> dict[str, ReadinessProbe]:
        async def nats_ready() -> bool:
            return self.nc is not None and self.nc.is_connected and self.started.is_set()

        probes: dict[str, ReadinessProbe] = {"nats": nats_ready}
        if self.uses_database and self.settings.database_url is not None:
            probes["database"] = postgres_probe(self.settings.database_url.get_secret_value())
        return probes

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run background work until stop; a crash is logged and ends the process."""
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._on_task_done)
        self._tasks.append(task)

    def consume(
        self, consumer: str, handler: Handler | SequencedHandler, **options: Any
    ) -> EventConsumer:
        loop = EventConsumer(self.js, consumer, handler, metrics=self.metrics, **options)
        self.spawn(loop.run(self.stopping), f"consume:{consumer}")
        return loop

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("background task crashed", task=task.get_name(), error=repr(task.exception()))
        self.stopping.set()
        self.crashed = True

    async def start(self) -> None:
        self.nc = await connect_bus(
            self.settings, name=self.name, metrics=self.metrics, stop=self.stopping
        )
        self.js = self.nc.jetstream()
        if self.settings.nats_user is None:
            # An unauthenticated bus (tests, a bare dev server) has no admin to declare for
            # us; with a NATS user the admin declared everything and we may not.
            await when_available(
                lambda: ensure(
                    self.js, streams=self.streams, buckets=self.buckets, consumers=self.consumers
                ),
                what="declarations",
                stop=self.stopping,
            )
        await self.on_start()
        self.started.set()
        log.info("service started", instance=self.settings.instance)

    async def stop(self) -> None:
        self.stopping.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=self.settings.shutdown_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.on_stop()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()
            if not self.nc.is_closed:
                # NATS was unreachable, so there was nothing to drain (nats-py refuses while
                # it reconnects): close, or the client would go on reconnecting forever.
                with contextlib.suppress(Exception):
                    await self.nc.close()


ServiceFactory = Callable[[ServiceSettings, ServiceMetrics], BusService]


def run_service(
    factory: ServiceFactory,
    *,
    name: str,
    settings_class: type[ServiceSettings] = ServiceSettings,
    default_port: int = 0,
) -> None:
    """The entry point of a service: exits 0 on SIGTERM/SIGINT, 1 with one line on bad setup."""
    try:
        settings = settings_class()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        sys.exit(f"{name}: setting HEARTH_{field.upper()} is invalid: {first['msg']}")
    configure_logging(name, level=settings.log_level, fmt=settings.log_format)
    try:
        code = asyncio.run(_serve(factory, settings, name, default_port))
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)


async def _serve(
    factory: ServiceFactory, settings: ServiceSettings, name: str, default_port: int
) -> int:
    metrics = ServiceMetrics(name)
    service = factory(settings, metrics)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.stopping.set)

    app = web.Application()
    add_health_routes(
        app, service=name, metrics=metrics, probes=service.probes(), details=service.details
    )
    service.routes(app)
    port = default_port if settings.http_port is None else settings.http_port
    try:
        runner, bound = await start_http(
            app, settings.http_host, port, reuse_port=service.shares_port()
        )
    except OSError as exc:
        log.error("cannot listen", host=settings.http_host, port=port, error=exc.strerror)
        print(
            f"{name}: port {settings.http_host}:{port} is not available ({exc.strerror}); "
            f"stop what uses it or set HEARTH_HTTP_PORT",
            file=sys.stderr,
        )
        return 1
    log.info("http listening", host=settings.http_host, port=bound)

    starting = asyncio.create_task(service.start())
    stopping = asyncio.create_task(service.stopping.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    failure = starting.exception() if starting.done() and not starting.cancelled() else None
    if failure is not None:
        log.error("service failed to start", error=str(failure) or type(failure).__name__)
        print(f"{name}: failed to start: {failure}", file=sys.stderr)
        code = 1
    else:
        await stopping
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
    log.info("stopping")
    await service.stop()
    await runner.cleanup()
    if getattr(service, "crashed", False):
        code = 1
    log.info("stopped", exit_code=code)
    return code
