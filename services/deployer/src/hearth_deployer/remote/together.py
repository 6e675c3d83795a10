"""Independent remote requests sent at once: across a slow link each one waited for costs
a round trip, and requests on one SFTP session or connection travel together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar, cast

_A = TypeVar("_A")
_B = TypeVar("_B")
_T = TypeVar("_T")


async def every(awaitables: Iterable[Awaitable[_T]]) -> list[_T]:
    """Every result, in order; when any fails, the first failure in that order, raised
    only once all have ended (none is left running behind its caller's back). Await it
    inside the SFTP session the awaitables use, so the pool sees what it raises."""
    outcomes = await asyncio.gather(*awaitables, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return cast("list[_T]", outcomes)


async def together(first: Awaitable[_A], second: Awaitable[_B]) -> tuple[_A, _B]:
    """Both results, as :func:`every` gives them."""
    a, b = await every(cast("list[Awaitable[Any]]", [first, second]))
    return a, b
