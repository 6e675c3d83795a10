"""The webhook route's bound on deliveries in flight, on a real aiohttp server."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from hearth_webhook_gw.domain.deliveries import MAX_BODY_BYTES, Delivery, Reply
from hearth_webhook_gw.entrypoints.http import RETRY_AFTER_S, WEBHOOK_PATH, add_webhook_routes


async def test_a_delivery_beyond_the_bound_gets_503_with_retry_after_unread() -> None:
    held = asyncio.Event()
    entered: list[Delivery] = []
    all_in = asyncio.Event()

    async def accept(delivery: Delivery) -> Reply:
        entered.append(delivery)
        if len(entered) == 2:
            all_in.set()
        await held.wait()
        return Reply(202, {"ok": True})

    app = web.Application()
    add_webhook_routes(app, accept, in_flight=2)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        url = str(server.make_url(WEBHOOK_PATH))
        first = [asyncio.create_task(session.post(url, data=b"{}")) for _ in range(2)]
        await all_in.wait()
        # Answered at once; the timeout only turns a missing bound into a failure, not a hang.
        async with session.post(url, data=b"{}", timeout=aiohttp.ClientTimeout(30)) as busy:
            assert busy.status == 503
            assert busy.headers["Retry-After"] == str(RETRY_AFTER_S)
            assert "retry in" in (await busy.json())["detail"]
        assert len(entered) == 2  # the third body was never handed on
        held.set()
        for task in first:
            async with await task as response:
                assert response.status == 202
        async with session.post(url, data=b"{}") as later:
            assert later.status == 202


async def test_replies_are_utf8_json_as_json_response_made_them() -> None:
    """The reply is written with orjson: the same Content-Type as aiohttp's json_response,
    the same JSON once parsed, non-ASCII text included."""
    body = {"error": "malformed push payload", "detail": 'commits.0.message: ünïcødé "x"\n'}

    async def accept(delivery: Delivery) -> Reply:
        return Reply(400, body)

    app = web.Application()
    add_webhook_routes(app, accept)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        async with session.post(server.make_url(WEBHOOK_PATH), data=b"{}") as response:
            assert response.status == 400
            assert response.headers["Content-Type"] == "application/json; charset=utf-8"
            assert json.loads(await response.read()) == body
        too_large = str(MAX_BODY_BYTES + 1)
        async with session.post(
            server.make_url(WEBHOOK_PATH), data=b"{}", headers={"Content-Length": too_large}
        ) as response:
            assert response.status == 413
            assert response.headers["Content-Type"] == "application/json; charset=utf-8"
            assert "bodies over" in (await response.json())["detail"]
