"""One coordinator per adopted device: it owns the connection, reconnects with backoff and
jitter, and reports what happens to an observer. A semaphore shared by all coordinators
bounds how many connect at once, so thousands of devices do not stampede at start.

A sleeping device (H&T) is never reconnected to: its coordinator waits for its wake-ups
(``WakeSource``), reports each as a status, and reports it lost only once a wake-up is overdue
(its wake period x (1 + ``grace``)). It contacts the device only when it is known to be awake
(just discovered, or a wake-up while its reports are not yet pointed at us)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from hearth_device_manager.adapters.ports import Connector, DeviceLink, LinkTarget, WakeSource
from hearth_device_manager.domain.errors import DeviceError, OtherDeviceError, Unreachable


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


@dataclass(frozen=True)
class Sleep:
    #: Online while the last wake-up is younger than the wake period x (1 + grace).
    grace: float = 0.5
    #: The wake period until the device tells its own.
    default_period_s: float = 6 * 3600.0
    #: How long a contact with an awake device may take.
    contact_timeout_s: float = 10.0


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
        wakes: WakeSource | None = None,
        sleep: Sleep | None = None,
        learned: Callable[[float], None] = lambda period_s: None,
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
        #: The open link (None while disconnected) and how many times it was opened.
        self.link: DeviceLink | None = None
        self.connections = 0
        self._linked = asyncio.Condition()
        self._wakes = wakes
        self._sleep = sleep or Sleep()
        #: A sleeping device's wake-ups, ``(status, period)``; None: seen awake otherwise.
        self._reports: asyncio.Queue[tuple[dict[str, Any] | None, float | None] | None] | None
        self._reports = None
        self.period_s = self._sleep.default_period_s
        #: Told each wake period the device states that differs from the last (to keep it).
        self._learned = learned

    async def wait_link(self, after: int = 0) -> DeviceLink:
        """The open link, once the device has connected more than ``after`` times (a
        device coming back from a reboot or an update is a new connection)."""
        async with self._linked:
            await self._linked.wait_for(lambda: self.link is not None and self.connections > after)
        assert self.link is not None
        return self.link

    async def _set_link(self, link: DeviceLink | None) -> None:
        async with self._linked:
            self.link = link
            self.connections += link is not None
            self._linked.notify_all()

    def retry_now(self) -> None:
        """The device was seen somewhere (new address, new secret): stop waiting."""
        self._wake.set()
        if self._reports is not None:
            self._reports.put_nowait(None)

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
        if self._wakes is not None:
            target = await self._first_target()
            if target.sleeping:
                await self._run_sleeping(self._wakes, target)
                return
        await self._run_connected()

    async def _first_target(self) -> LinkTarget:
        """Where and how to reach the device (its secret, whether it sleeps), once it can be
        told; a missing secret is reported and waited out like a refused one."""
        failures = 0
        while True:
            self._wake.clear()
            try:
                return await self._target()
            except DeviceError as error:
                self._observer.lost(self.device_id, error)
                await self._pause(self._backoff.delay(failures, error, self._rand()))
                failures += 1

    async def _run_connected(self) -> None:
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
                await self._set_link(link)
                self._observer.connected(self.device_id, link.status)
                await _first(closed.wait(), self._wake.wait())
            finally:
                self.link = None
                await link.close()
            if closed.is_set():
                self._observer.lost(self.device_id, Unreachable(f"{self.device_id}: lost"))
                await self._pause(self._backoff.delay(0, Unreachable(""), self._rand()))

    def _learn(self, period_s: float | None) -> None:
        if period_s and period_s != self.period_s:
            self.period_s = period_s
            self._learned(period_s)

    async def _run_sleeping(self, wakes: WakeSource, target: LinkTarget) -> None:
        self.period_s = target.wake_period_s or self.period_s
        reports = self._reports = asyncio.Queue()
        unwatch = wakes.watch(target, lambda status, period: reports.put_nowait((status, period)))
        status: dict[str, Any] = {}
        try:
            prepared, status = await self._contact(wakes, status)  # just found: maybe awake
            overdue = False
            while True:
                limit = None if overdue else self.period_s * (1 + self._sleep.grace)
                try:
                    async with asyncio.timeout(limit):
                        report = await reports.get()
                except TimeoutError:
                    overdue = True
                    self._observer.lost(
                        self.device_id,
                        Unreachable(f"{self.device_id}: no wake-up for {limit:.0f} s"),
                    )
                    continue
                if report is None:  # seen awake (discovery), or a new secret: contact
                    prepared = False
                else:
                    overdue = False
                    report_status, period = report
                    self._learn(period)
                    status = report_status or status
                if not prepared:
                    prepared, status = await self._contact(wakes, status)
                    if not prepared and report is None:
                        continue
                self._observer.changed(self.device_id, status)
        finally:
            self._reports = None
            unwatch()

    async def _contact(
        self, wakes: WakeSource, status: dict[str, Any]
    ) -> tuple[bool, dict[str, Any]]:
        """With the device awake: its status, its wake period, its reports pointed at us."""
        self.attempts += 1
        try:
            target = await self._target()
            async with self._gate, asyncio.timeout(self._sleep.contact_timeout_s):
                link = await self._connector.open(target, lambda _: None, lambda: None)
                try:
                    period = await wakes.prepare(target, link)
                    status = link.status
                finally:
                    await link.close()
        except DeviceError as error:
            if not error.transient:  # wrong credentials: say so, at each wake-up at most
                self._observer.lost(self.device_id, error)
            return False, status
        except TimeoutError:
            return False, status
        self._learn(period)
        self._observer.connected(self.device_id, status)
        return True, status


async def _first(*waits: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
