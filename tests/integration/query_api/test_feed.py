"""The SSE live feed: live events, filters, and resuming with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import nats
import pytest

from hearth_events import new_event
from hearth_events.catalogue import DeploymentLogged, DeviceOffline, LogLine
from hearth_events.publish import publish_event
from tests.integration.query_api.conftest import Api
from tests.support.history import START

pytestmark = pytest.mark.integration


async def publish(url: str, *datas: Any) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for data in datas:
        await publish_event(js, new_event(data, source="test", actor="test"))
    await nc.close()


def log_line(n: int, target: str = "ha") -> DeploymentLogged:
    return DeploymentLogged(
        deployment_id="dep-9", target=target, lines=(LogLine(at=START, message=f"live {n}"),)
    )


async def read_events(
    response: aiohttp.ClientResponse, count: int
) -> list[tuple[int, dict[str, Any]]]:
    found: list[tuple[int, dict[str, Any]]] = []
    event_id: int | None = None
    async with asyncio.timeout(15):
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: ") and event_id is not None:
                found.append((event_id, json.loads(line[6:])))
                if len(found) == count:
                    return found
    return found


async def test_the_feed_is_live_filterable_and_resumes_without_gap_or_duplicate(
    api: Api,
) -> None:
    headers = {"Authorization": f"Bearer {api.tokens['viewer']}"}
    url = f"{api.base}/api/v1/events/stream?type=DeploymentLogged&target=ha"
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            await response.content.readline()  # ": connected"
            await publish(
                api.nats_url,
                log_line(1),
                DeviceOffline(device_id="x"),
                log_line(2, target="garage"),
                log_line(3),
            )
            first = await read_events(response, 2)
        assert [e["data"]["lines"][0]["message"] for _, e in first] == ["live 1", "live 3"]
        last_seen = first[-1][0]

        # While disconnected, more happens.
        await publish(api.nats_url, log_line(4), log_line(5))
        await asyncio.sleep(1)
        async with session.get(url, headers={"Last-Event-ID": str(last_seen)}) as response:
            missed = await read_events(response, 2)
            await publish(api.nats_url, log_line(6))
            live = await read_events(response, 1)
    messages = [e["data"]["lines"][0]["message"] for _, e in missed + live]
    assert messages == ["live 4", "live 5", "live 6"]
    ids = [i for i, _ in first + missed + live]
    assert ids == sorted(set(ids))


async def test_the_feed_needs_a_token_and_a_numeric_last_event_id(api: Api) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{api.base}/api/v1/events/stream") as response:
            assert response.status == 401
        headers = {"Authorization": f"Bearer {api.tokens['viewer']}", "Last-Event-ID": "abc"}
        async with session.get(f"{api.base}/api/v1/events/stream", headers=headers) as response:
            assert response.status == 400
            assert "Last-Event-ID" in (await response.json())["detail"]
