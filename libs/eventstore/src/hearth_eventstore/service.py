"""Running an event-sourced application and its relay inside a BusService."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TypeVar

import psycopg

from hearth_eventstore.relay import Relay
from hearth_eventstore.store import HearthApplication, open_application
from hearth_servicekit import BusService, get_logger
from hearth_servicekit.database import describe_connect_error

log = get_logger("hearth.eventstore")
App = TypeVar("App", bound=HearthApplication)


async def open_when_reachable(service: BusService, cls: type[App], schema: str) -> App:
    """Open the application, retrying with backoff while PostgreSQL is unreachable."""
    if service.settings.database_url is None:
        raise RuntimeError(f"HEARTH_DATABASE_URL is not set; {service.name} needs PostgreSQL")
    dsn = service.settings.database_url.get_secret_value()
    delay = 1.0
    while True:
        try:
            return await asyncio.to_thread(open_application, cls, dsn, schema)
        except (psycopg.Error, OSError) as exc:
            log.warning(
                "database unavailable, retrying",
                reason=describe_connect_error(exc),
                retry_in_s=delay,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(service.stopping.wait(), delay)
        if service.stopping.is_set():
            raise asyncio.CancelledError("stopped before the database was reachable")
        delay = min(delay * 2, 15.0)


def start_relay(service: BusService, app: HearthApplication) -> Relay:
    assert service.settings.database_url is not None
    lag = service.metrics.gauge(
        "hearth_relay_lag_events", "Stored events not yet acknowledged by JetStream"
    )
    relay = Relay(
        app,
        service.settings.database_url.get_secret_value(),
        service.nc,
        source=f"{service.name}/{service.settings.instance}",
        on_lag=lag.set,
    )
    service.spawn(relay.run(service.stopping), "relay")
    return relay
