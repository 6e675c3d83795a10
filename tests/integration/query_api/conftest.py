"""Fixtures for the query API: the real process over read models of a real history."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_events import Envelope
from hearth_events.jetstream import STREAMS, ensure
from hearth_events.publish import publish_event
from tests.support.history import history
from tests.support.services import ServiceProcess


@dataclass
class Api:
    base: str
    nats_url: str
    tokens: dict[str, str]

    def call(
        self,
        method: str,
        path: str,
        token: str | None = "viewer",
        body: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {self.tokens.get(token, token)}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())


async def command(url: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    nc = await nats.connect(url)
    reply = await nc.request(f"hearth.cmd.query.{name}", json.dumps(body).encode(), timeout=10)
    await nc.close()
    result: dict[str, Any] = json.loads(reply.data)
    return result


async def serve(
    nats_factory: Callable[..., EmbeddedNats],
    database_url: str,
    start_service: Callable[..., ServiceProcess],
    events: list[Envelope],
) -> Api:
    """The query API over ``events`` (all projected), with a token per role."""
    server = nats_factory()
    nc = await nats.connect(server.url)
    js = nc.jetstream()
    await ensure(js, streams=tuple(STREAMS))
    for envelope in events:
        await publish_event(js, envelope)
    await nc.close()
    service = start_service(
        "query-api", HEARTH_NATS_URL=server.url, HEARTH_DATABASE_URL=database_url
    )
    service.wait_for("/readyz", 200)
    async with asyncio.timeout(120):
        while service.get("/readyz")[1]["projection"]["position"] < len(events):
            await asyncio.sleep(0.1)
    tokens = {}
    for role, name in (("viewer", "viewer"), ("operator", "ops"), ("admin", "root")):
        reply = await command(server.url, "CreateToken", {"name": name, "role": role})
        assert reply["ok"], reply
        tokens[role] = reply["token"]
    return Api(f"http://127.0.0.1:{service.port}", server.url, tokens)


@pytest.fixture
async def api(
    nats_factory: Callable[..., EmbeddedNats],
    database_url: str,
    start_service: Callable[..., ServiceProcess],
) -> AsyncIterator[Api]:
    yield await serve(nats_factory, database_url, start_service, history())
