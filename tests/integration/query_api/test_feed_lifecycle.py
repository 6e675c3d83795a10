"""The live feed and the life of the process: a stop ends open feeds, a client may leave.

Against the real query-api process: an SSE client connected while the process gets
SIGTERM must not hold the shutdown (aiohttp would wait for the handler for a minute), and a
client that closes its page is an ordinary event, not an error with a traceback.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from typing import Any

import aiohttp
import nats
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_events.catalogue import DeviceOffline
from hearth_events.jetstream import STREAMS, ensure
from tests.integration.query_api.conftest import command
from tests.integration.query_api.test_feed import publish
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration

# Generous: a stop that works takes well under a second; aiohttp's own wait is 60 s.
EXIT_TIMEOUT_S = 30


def log_lines(service: ServiceProcess) -> list[dict[str, Any]]:
    lines = []
    for raw in service.log.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            lines.append({"level": "raw", "event": raw})
    return lines


async def started_api(
    nats_factory: Callable[..., EmbeddedNats],
    database_url: str,
    start_service: Callable[..., ServiceProcess],
) -> tuple[ServiceProcess, str, str]:
    server = nats_factory()
    nc = await nats.connect(server.url)
    await ensure(nc.jetstream(), streams=tuple(STREAMS))
    await nc.close()
    service = start_service(
        "query-api",
        HEARTH_NATS_URL=server.url,
        HEARTH_DATABASE_URL=database_url,
        HEARTH_LOG_LEVEL="debug",
    )
    service.wait_for("/readyz", 200)
    reply = await command(server.url, "CreateToken", {"name": "viewer", "role": "viewer"})
    return service, server.url, reply["token"]


async def test_a_stop_ends_open_feeds_at_once_and_says_stopped(
    nats_factory: Callable[..., EmbeddedNats],
    database_url: str,
    start_service: Callable[..., ServiceProcess],
) -> None:
    service, _, token = await started_api(nats_factory, database_url, start_service)
    url = f"http://127.0.0.1:{service.port}/api/v1/events/stream"
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session, session.get(url) as response:
        assert (await response.content.readline()).startswith(b": connected")
        service.process.terminate()  # SIGTERM, as `hearth up` and systemd send it
        # The server ends the stream: the client reads to its end, no reset.
        try:
            async with asyncio.timeout(EXIT_TIMEOUT_S):
                rest = await response.content.read()
        except TimeoutError:
            pytest.fail(f"the feed stayed open after SIGTERM:\n{service.output()}")
        assert b"data:" not in rest
    try:
        code = await asyncio.to_thread(service.process.wait, EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the query API did not exit with a feed open:\n{service.output()}")
    assert code == 0, service.output()
    events = [line.get("event") for line in log_lines(service)]
    assert "stopping" in events and "stopped" in events, service.output()
    assert events.index("stopped") > events.index("stopping")


async def test_a_client_that_leaves_is_no_error(
    nats_factory: Callable[..., EmbeddedNats],
    database_url: str,
    start_service: Callable[..., ServiceProcess],
) -> None:
    service, nats_url, token = await started_api(nats_factory, database_url, start_service)
    url = f"http://127.0.0.1:{service.port}/api/v1/events/stream"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        response = await session.get(url)
        assert (await response.content.readline()).startswith(b": connected")
        response.close()  # the page is closed: the connection goes away mid-stream

    # The next event is written to the gone client: that is where the server notices.
    await publish(nats_url, DeviceOffline(device_id="x"))
    async with asyncio.timeout(EXIT_TIMEOUT_S):
        while True:
            lines = log_lines(service)
            noticed = [line for line in lines if line.get("event") == "feed client went away"]
            errors = [line for line in lines if line.get("level") in ("error", "critical", "raw")]
            if noticed or errors:
                break
            await asyncio.sleep(0.1)
    assert errors == [], service.output()
    assert noticed[0]["level"] == "debug"
    assert "exception" not in noticed[0]
    service.terminate()
