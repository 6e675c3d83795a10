"""What every fault trial shares: the judged outcome, a tail of the event stream, the
events a service stored, and waiting on a condition (never on a guessed time)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearth_events import Envelope, parse_event
from hearth_events.jetstream import EVENTS_STREAM
from hearth_eventstore.store import HearthAggregate, HearthApplication


@dataclass(frozen=True)
class Trial:
    """One kill -9 trial, judged."""

    component: str  # relay, deploy, rollback, notify, project
    point: str
    hit: bool  # the process died by SIGKILL at the point (its marker says so)
    lost: int = 0  # stored events missing from the stream; notifications never delivered
    duplicated: int = 0  # events twice in the stream; deliveries beyond the promise
    half_applied: int = 0  # a host with a mix of trees; read models unlike a rebuild
    other: tuple[str, ...] = ()  # anything else that went wrong, one line each
    seconds: float = 0.0


def order_ok(expected: list[str], streamed: list[str]) -> bool:
    """The first copies in the stream come in the order they were stored."""
    seen = set(streamed)
    return list(dict.fromkeys(streamed)) == [e for e in expected if e in seen]


class StreamTail:
    """The events stream from a sequence on, read as it grows."""

    def __init__(self, js: Any, first_seq: int) -> None:
        self.js = js
        self.next = first_seq
        self.events: list[Envelope] = []

    @classmethod
    async def at_end(cls, js: Any) -> StreamTail:
        return cls(js, (await js.stream_info(EVENTS_STREAM)).state.last_seq + 1)

    async def read(self) -> list[Envelope]:
        last = (await self.js.stream_info(EVENTS_STREAM)).state.last_seq
        while self.next <= last:
            message = await self.js.get_msg(EVENTS_STREAM, self.next)
            self.events.append(parse_event(message.data))
            self.next += 1
        return self.events

    def since(self, index: int) -> list[Envelope]:
        return self.events[index:]


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    """Poll ``check`` until it holds; False at the timeout (the caller reports it)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def when_up(command: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """The answer to a command sent until the service is up to answer it."""
    for _ in range(300):
        try:
            return await command()
        except Exception:
            await asyncio.sleep(0.1)
    return await command()


def stored_event_ids(app: HearthApplication, after: int) -> tuple[list[str], int]:
    """Event ids a service stored after notification ``after``, in store order, and the
    last notification id."""
    ids: list[str] = []
    start = after + 1
    while section := app.recorder.select_notifications(start, 500):
        for notification in section:
            event = app.mapper.to_domain_event(notification)
            if isinstance(event, HearthAggregate.Recorded):
                ids.append(event.event_id)
        start = section[-1].id + 1
    return ids, start - 1


def files_of(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def digest(files: dict[str, str]) -> dict[str, str]:
    return {path: hashlib.sha256(content.encode()).hexdigest() for path, content in files.items()}
