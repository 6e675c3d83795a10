"""Writes each device's compact status to the ``hearth_device_status`` KV bucket: one key
per device (its id escaped as a subject token), only when the value changed.

``write`` returns at once: the newest value per device waits in memory and a flusher keeps
up to ``in_flight`` puts going (never two for one key, so a key's values land in order). A
fleet of thousands coming online is thousands of puts in flight, not one after another.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress
from typing import Any

from hearth_events import escape_token
from hearth_events.jetstream import DEVICE_STATUS_BUCKET
from hearth_servicekit import get_logger

log = get_logger("hearth.device_manager")


def status_key(device_id: str) -> str:
    return escape_token(device_id)


class KvStatusWriter:
    def __init__(self, js: Any, in_flight: int = 64) -> None:
        self._js = js
        self._last: dict[str, bytes] = {}
        #: The newest value per key not yet put; ``None``: delete the key.
        self._pending: dict[str, bytes | None] = {}
        self._busy: set[str] = set()
        self._slots = asyncio.Semaphore(in_flight)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._flusher: asyncio.Task[None] | None = None
        self._puts: set[asyncio.Task[None]] = set()
        self.writes = 0

    async def write(self, device_id: str, status: dict[str, Any]) -> None:
        value = json.dumps(status, sort_keys=True, separators=(",", ":")).encode()
        key = status_key(device_id)
        if key not in self._pending and key not in self._busy and self._last.get(key) == value:
            return
        self._pending[key] = value
        self._idle.clear()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="device-status-kv")
        self._wake.set()

    async def forget(self, device_id: str) -> None:
        """Delete the device's key (a released device has no live status). Sent even when
        this process never wrote the key: an earlier run may have."""
        key = status_key(device_id)
        self._pending[key] = None
        self._idle.clear()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="device-status-kv")
        self._wake.set()

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait (a bounded time) until every value written so far is in the bucket."""
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()

    async def close(self, timeout_s: float = 5.0) -> None:
        await self.drain(timeout_s)
        tasks = [*self._puts, *([self._flusher] if self._flusher else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _flush(self) -> None:
        kv = await self._js.key_value(DEVICE_STATUS_BUCKET)
        while True:
            await self._wake.wait()
            self._wake.clear()
            for key in [k for k in self._pending if k not in self._busy]:
                value = self._pending.pop(key)
                if value is not None and self._last.get(key) == value:
                    continue
                await self._slots.acquire()
                self._busy.add(key)
                task = asyncio.create_task(self._put(kv, key, value))
                self._puts.add(task)
                task.add_done_callback(self._puts.discard)
            self._settle()

    async def _put(self, kv: Any, key: str, value: bytes | None) -> None:
        try:
            if value is None:
                self._last.pop(key, None)
                await kv.delete(key)
            else:
                await kv.put(key, value)
                self._last[key] = value
            self.writes += 1
        except Exception as exc:  # the bus is away: keep the newest value for later
            log.warning("device status not written", key=key, error=type(exc).__name__)
            self._pending.setdefault(key, value)
            await asyncio.sleep(1.0)
        finally:
            self._busy.discard(key)
            self._slots.release()
            if key in self._pending:
                self._wake.set()
            self._settle()

    def _settle(self) -> None:
        if not self._pending and not self._busy:
            self._idle.set()
