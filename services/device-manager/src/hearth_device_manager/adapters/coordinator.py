"""One coordinator per adopted device: it owns the connection, reconnects with backoff and
jitter, and reports what happens to an observer. A semaphore shared by all coordinators
bounds how many connect at once, so thousands of devices do not stampede at start."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from hearth_device_manager.domain.errors import DeviceError, OtherDeviceError, Unreachable
from hearth_device_manager.ports import Connector, DeviceLink, LinkTarget


@dataclass(frozen=True)
class Backoff:
    first_s: float = 1.0
    max_s: float = 300.0
    #: After wrong credentials: the operator must act, do not hammer the device.
    credentials_s: float = 3600.0
    jitter: float = 0.2

    def delay(self, attempt: int, error: DeviceError, rand: float) -> float:
        """Seconds before attempt ``attempt + 1``; ``rand`` in [0, 1) spreads reconnects."""
        if not error.transient:
            base = self.credentials_s
        else:
            base = min(self.max_s, self.first_s * (2 ** min(attempt, 30)))
        return base * (1 - self.jitter + 2 * self.jitter * rand)


class Observer(Protocol):
    def connected(self, device_id: str, status: dict[str, Any]) -> None: ...

    def changed(self, device_id: str, status: dict[str, Any]) -> None: ...

    def lost(self, device_id: str, error: DeviceError) -> None: ...


class Coordinator:
    def __init__(
        self,
        device_id: str,
        target: Callable[[], Awaitable[LinkTarget]],
        connector: Connector,
        observer: Observer,
        *,
        gate: asyncio.Semaphore,
        backoff: Backoff,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.device_id = device_id
        self._target = target
        self._connector = connector
        self._observer = observer
        self._gate = gate
        self._backoff = backoff
        self._rand = rand
        self._wake = asyncio.Event()
        self.attempts = 0
        #: How long the coordinator waits now before its next attempt (0: not waiting).
        self.waiting_s = 0.0
        #: The open connection while there is one (drift checks and applies use it).
        self.link: DeviceLink | None = None

    def retry_now(self) -> None:
        """The device was seen somewhere (new address, new secret): stop waiting."""
        self._wake.set()

    async def _pause(self, seconds: float) -> None:
        self.waiting_s = seconds
        try:
            with suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._wake.wait()
        finally:
            self.waiting_s = 0.0

    async def run(self) -> None:
        """Until cancelled."""
        failures = 0
        while True:
            self._wake.clear()
            closed = asyncio.Event()
            self.attempts += 1
            try:
                target = await self._target()
                async with self._gate:
                    link = await self._connector.open(
                        target,
                        lambda status: self._observer.changed(self.device_id, status),
                        closed.set,
                    )
            except DeviceError as error:
                self._observer.lost(self.device_id, error)
                await self._pause(self._backoff.delay(failures, error, self._rand()))
                failures += 1
                continue
            except Exception as exc:  # a bug must not end the device's coordinator
                self._observer.lost(self.device_id, OtherDeviceError(f"{type(exc).__name__}"))
                await self._pause(self._backoff.max_s)
                continue
            failures = 0
            self.link = link
            try:
                self._observer.connected(self.device_id, link.status)
                await _first(closed.wait(), self._wake.wait())
            finally:
                self.link = None
                await link.close()
            if closed.is_set():
                self._observer.lost(self.device_id, Unreachable(f"{self.device_id}: lost"))
                await self._pause(self._backoff.delay(0, Unreachable(""), self._rand()))


async def _first(*waits: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
