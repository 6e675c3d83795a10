"""Independent remote requests sent at once: across a slow link each one waited for costs
a round trip, and requests on one SFTP session or connection travel together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

_A = TypeVar("_A")
_B = TypeVar("_B")


async def together(first: Awaitable[_A], second: Awaitable[_B]) -> tuple[_A, _B]:
    """Both results; when either fails, the first failure in argument order, raised only
    once both have ended (neither is left running behind its caller's back)."""
    a, b = await asyncio.gather(first, second, return_exceptions=True)
    if isinstance(a, BaseException):
        raise a
    if isinstance(b, BaseException):
        raise b
    return a, b
