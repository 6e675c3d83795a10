"""The NATS connection a service lives on: reconnect forever, log every state change."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from nats.aio.client import Client

from hearth_events.jetstream import unavailable
from hearth_servicekit.logging import get_logger
from hearth_servicekit.metrics import ServiceMetrics
from hearth_servicekit.settings import ServiceSettings

log = get_logger("hearth.bus")
T = TypeVar("T")
#: How long a service waits for JetStream at start before it gives up (a cluster forming
#: elects its leaders in seconds; a node restarting under Kubernetes can take a minute).
JETSTREAM_PATIENCE_S = 120.0


_SPACE = re.compile(r"\s")


def parse_header_lines(raw: bytes) -> dict[str, str]:
    """nats-py's reading of a message's header block, with the same result, in half the
    time: its test for whitespace in a name is a Python generator over each character, and
    every message carries four headers (6 µs an event at projection catch-up, 3 here).
    ``tests/unit/servicekit/test_header_lines.py`` compares the two."""
    found: dict[str, str] = {}
    for line in raw.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        try:
            key = name.strip().decode("ascii")
        except UnicodeDecodeError:
            continue
        if _SPACE.search(key) is None:  # \s is str.isspace() for a str pattern
            found[key] = value.strip().decode("utf-8", "replace")
    return found


class BusClient(Client):
    """nats-py's client, reading message headers with :func:`parse_header_lines`."""

    _parse_header_lines = staticmethod(parse_header_lines)


async def connect_bus(
    settings: ServiceSettings,
    *,
    name: str,
    metrics: ServiceMetrics | None = None,
    stop: asyncio.Event | None = None,
    max_initial_attempts: int | None = None,
) -> Client:
    """Connect to NATS, retrying the first connection with backoff until ``stop`` is set.

    nats-py gives up after 60 reconnects by default; a service never should.
    """
    options = _options(settings, name, metrics)
    delay, attempt = 0.5, 0
    while True:
        attempt += 1
        try:
            client = BusClient()
            await client.connect(**options)
        except Exception as exc:  # nats-py raises several unrelated types for "no server"
            if max_initial_attempts is not None and attempt >= max_initial_attempts:
                raise
            log.warning(
                "nats unreachable, retrying",
                url=settings.nats_url,
                error=str(exc) or type(exc).__name__,
                retry_in_s=round(delay, 1),
            )
            await _wait_to_retry(delay, stop, exc)
            delay = min(delay * 2, 10.0) * random.uniform(0.8, 1.2)  # noqa: S311
            continue
        if metrics:
            metrics.nats_connected.set(1)
        log.info("nats connected", url=client.connected_url.netloc if client.connected_url else "")
        return client


def _options(
    settings: ServiceSettings, name: str, metrics: ServiceMetrics | None
) -> dict[str, Any]:
    """nats-py's options: reconnect forever, log (and count) every state change."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats error", error=str(exc) or type(exc).__name__)

    async def on_disconnected() -> None:
        log.warning("nats disconnected")
        if metrics:
            metrics.nats_connected.set(0)

    async def on_reconnected() -> None:
        log.info("nats reconnected")
        if metrics:
            metrics.nats_connected.set(1)
            metrics.nats_reconnects.inc()

    options: dict[str, Any] = {
        "servers": settings.nats_servers(),
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 1,
        "connect_timeout": 3,
        "error_cb": on_error,
        "disconnected_cb": on_disconnected,
        "reconnected_cb": on_reconnected,
        "inbox_prefix": f"_INBOX_{name}".encode(),
    }
    if settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = (
            settings.nats_password.get_secret_value() if settings.nats_password else ""
        )
    return options


async def _wait_to_retry(delay: float, stop: asyncio.Event | None, exc: Exception) -> None:
    """Wait ``delay`` seconds before the next attempt; cancelled when ``stop`` is set."""
    if stop is None:
        await asyncio.sleep(delay)
        return
    try:
        await asyncio.wait_for(stop.wait(), delay)
    except TimeoutError:
        return
    raise asyncio.CancelledError("stopped before NATS was reachable") from exc


ReadinessProbe = Callable[[], Awaitable[bool]]


def nats_probe(client_ref: Callable[[], Client | None]) -> ReadinessProbe:
    async def probe() -> bool:
        client = client_ref()
        return client is not None and client.is_connected

    return probe


async def when_available(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    stop: asyncio.Event | None = None,
    within_s: float = JETSTREAM_PATIENCE_S,
) -> T:
    """``call()``, asked again while JetStream is briefly unavailable.

    A cluster that is forming, or electing a leader after a node died, answers "no
    responders", "temporarily unavailable" or not at all for a few seconds. A service that
    starts then waits it out (logging each wait) instead of exiting; any other error, or
    one that lasts past ``within_s``, is raised.
    """
    deadline = time.monotonic() + within_s
    delay = 0.25
    while True:
        try:
            return await call()
        except Exception as exc:
            if not unavailable(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning(
                "jetstream unavailable, retrying",
                what=what,
                error=str(exc) or type(exc).__name__,
                retry_in_s=round(delay, 2),
            )
            await _wait_to_retry(delay, stop, exc)
            delay = min(delay * 2, 2.0)
