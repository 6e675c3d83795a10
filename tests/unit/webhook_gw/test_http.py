"""The webhook route's bound on deliveries in flight, on a real aiohttp server."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from hearth_webhook_gw.domain.deliveries import Delivery, Reply
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
