"""A feed that falls silent (a hung or unplugged API) is noticed, retried, then given up."""

from __future__ import annotations

import asyncio

import pytest

from hearth.client import ApiClient, ApiProblem, ApiSettings
from hearth.feed import follow_feed

FIRST_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
    b'id: 7\ndata: {"seq": 7}\n\n: connected\n\n'
)


async def test_a_silent_feed_is_retried_with_last_event_id_then_given_up() -> None:
    requests: list[bytes] = []

    async def hung_api(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        if len(requests) == 1:
            writer.write(FIRST_ANSWER)  # one event, then never another byte (no keep-alive)
            await writer.drain()
        await reader.read()  # until the client hangs up

    server = await asyncio.start_server(hung_api, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    seen: list[dict[str, object]] = []
    lost: list[str] = []
    connected: list[tuple[bool, str | None]] = []
    async with server, ApiClient(ApiSettings(url, "hth_test")) as client:
        feed = follow_feed(
            client,
            {},
            on_connected=lambda again, after: connected.append((again, after)),
            on_lost=lost.append,
            reconnect_for=0.6,
            silence=0.2,
        )
        with pytest.raises(ApiProblem, match=f"lost the Hearth API at {url}"):
            async for event in feed:
                seen.append(event)
    assert seen == [{"seq": 7}] and connected == [(False, None)]
    assert lost == ["no keep-alive for 0.2s"]
    assert len(requests) >= 2 and all(b"last-event-id: 7" in r.lower() for r in requests[1:])
