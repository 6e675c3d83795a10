"""An ``http(s)://`` health check: GET the URL, 2xx is healthy."""

from __future__ import annotations

import aiohttp

HTTP_CHECK_TIMEOUT = aiohttp.ClientTimeout(total=10)


async def http_check(url: str) -> str | None:
    """None when the URL answers 2xx; otherwise why not."""
    try:
        async with (
            aiohttp.ClientSession(timeout=HTTP_CHECK_TIMEOUT) as session,
            session.get(url) as reply,
        ):
            if 200 <= reply.status < 300:
                return None
            return f"HTTP {reply.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
