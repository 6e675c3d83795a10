"""The query API's live feed (Server-Sent Events) for the terminal: resumes, and gives up.

The feed sends ``: keep-alive`` every 15 s when nothing happens, so a connection silent
for ``SILENCE_S`` is dead. A lost feed is reconnected with ``Last-Event-ID`` (no event is
missed or repeated) for up to ``reconnect_for`` seconds; then :class:`ApiProblem` says so.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp

from hearth.client import ApiClient, ApiProblem, describe

#: The comment the live feed sends once it follows the stream for a client.
CONNECTED = ": connected"
#: Two missed keep-alives (the feed sends one every 15 s) and then some.
SILENCE_S = 40.0
RECONNECT_FOR_S = 30.0
FIRST_DELAY_S, MAX_DELAY_S = 0.5, 5.0


async def follow_feed(
    client: ApiClient,
    params: dict[str, str | None],
    *,
    on_connected: Callable[[bool, str | None], None] | None = None,
    on_lost: Callable[[str], None] | None = None,
    reconnect_for: float = RECONNECT_FOR_S,
    silence: float = SILENCE_S,
) -> AsyncIterator[dict[str, Any]]:
    """Yield each event of the feed, reconnecting after a drop.

    ``on_connected(again, resumed_after)`` is called once the server follows the stream for
    us (from then on no new event is missed); ``on_lost(why)`` when the feed is lost.
    """
    url = client.settings.url + "/api/v1/events/stream"
    query = {k: str(v) for k, v in params.items() if v is not None}
    last_id: str | None = None
    state = _Reconnects(client.settings.url, reconnect_for, on_connected, on_lost)
    while True:
        resumed_after = last_id
        headers = {"Last-Event-ID": last_id} if last_id else {}
        timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=silence)
        try:
            async with client.session.get(
                url, params=query, headers=headers, timeout=timeout
            ) as reply:
                if reply.status >= 400:
                    body = await _json(reply)
                    raise ApiProblem(describe(reply.status, body, "GET", client.settings.url))
                async for event_id, data in _sse(reply, partial(state.connected, resumed_after)):
                    last_id = event_id or last_id
                    yield data
            why = "the API ended the feed"
        except (aiohttp.ClientError, TimeoutError) as exc:
            if state.never_connected():
                raise ApiProblem(
                    f"cannot reach the Hearth API at {client.settings.url}: {exc}"
                ) from None
            why = _why(exc, silence)
        await state.lost(why)


@dataclass
class _Reconnects:
    """How often the feed connected, since when it is lost, and how long to wait next."""

    api_url: str
    reconnect_for: float
    on_connected: Callable[[bool, str | None], None] | None
    on_lost: Callable[[str], None] | None
    connections: int = 0
    lost_since: float | None = None
    delay: float = FIRST_DELAY_S

    def connected(self, resumed_after: str | None) -> None:
        if self.on_connected is not None:
            self.on_connected(self.connections > 0, resumed_after)
        self.connections, self.lost_since, self.delay = self.connections + 1, None, FIRST_DELAY_S

    def never_connected(self) -> bool:
        return self.connections == 0 and self.lost_since is None

    async def lost(self, why: str) -> None:
        """Wait before the next attempt; give up once lost for ``reconnect_for``."""
        now = time.monotonic()
        if self.lost_since is None:
            self.lost_since = now
            if self.on_lost is not None:
                self.on_lost(why)
        elif now - self.lost_since >= self.reconnect_for:
            raise ApiProblem(
                f"lost the Hearth API at {self.api_url} and could not reconnect "
                f"for {self.reconnect_for:g}s ({why})"
            )
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, MAX_DELAY_S)


def _why(exc: BaseException, silence: float) -> str:
    if isinstance(exc, TimeoutError):  # aiohttp's read timeouts are TimeoutErrors too
        return f"no keep-alive for {silence:g}s"
    return f"{type(exc).__name__} {exc}".strip()


async def _json(reply: aiohttp.ClientResponse) -> Any:
    try:
        return await reply.json(content_type=None)
    except ValueError:
        return None


async def _sse(
    reply: aiohttp.ClientResponse, on_connected: Callable[[], None] | None = None
) -> AsyncIterator[tuple[str | None, dict[str, Any]]]:
    event_id: str | None = None
    data: list[str] = []
    async for raw in reply.content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == CONNECTED and on_connected is not None:
            on_connected()
        elif not line:
            if data:
                yield event_id, json.loads("\n".join(data))
            event_id, data = None, []
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
