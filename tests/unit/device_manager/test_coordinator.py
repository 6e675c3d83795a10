"""A coordinator against a fake connector: reconnects, and waits out wrong credentials."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from hearth_device_manager.adapters.coordinator import Backoff, Coordinator
from hearth_device_manager.adapters.ports import LinkTarget
from hearth_device_manager.domain.errors import DeviceError, Unreachable, WrongCredentials
from tests.support.device_link import MemoryLink

TARGET = LinkTarget("shellyplus1pm-a8032ab12345", "A8032AB12345", 2, "10.0.0.5", 80)


class FakeConnector:
    """Fails with the queued errors first, then connects."""

    def __init__(self, *errors: DeviceError) -> None:
        self.errors = list(errors)
        self.opened = 0
        self.drop: Callable[[], None] | None = None

    async def open(
        self,
        target: LinkTarget,
        on_status: Callable[[dict[str, Any]], None],
        on_closed: Callable[[], None],
    ) -> MemoryLink:
        self.opened += 1
        if self.errors:
            raise self.errors.pop(0)
        self.drop = on_closed
        return MemoryLink({"sys": {"cfg_rev": 1}})


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.changed = asyncio.Event()

    def connected(self, device_id: str, status: dict[str, Any]) -> None:
        self.seen.append("connected")
        self.changed.set()

    def changed_(self, device_id: str, status: dict[str, Any]) -> None:
        self.seen.append("changed")

    def lost(self, device_id: str, error: DeviceError) -> None:
        self.seen.append(error.kind)
        self.changed.set()

    async def until(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.seen) < count:
                self.changed.clear()
                await self.changed.wait()


def coordinator(
    connector: FakeConnector, recorder: Recorder, where: LinkTarget = TARGET, **extra: Any
) -> Coordinator:
    async def target() -> LinkTarget:
        return where

    return Coordinator(
        where.device_id,
        target,
        connector,
        _Observer(recorder),
        gate=asyncio.Semaphore(1),
        backoff=Backoff(first_s=0, max_s=0, credentials_s=3600),
        rand=lambda: 0.5,
        **extra,
    )


class _Observer:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def connected(self, device_id: str, status: dict[str, Any]) -> None:
        self.recorder.connected(device_id, status)

    def changed(self, device_id: str, status: dict[str, Any]) -> None:
        self.recorder.changed_(device_id, status)

    def lost(self, device_id: str, error: DeviceError) -> None:
        self.recorder.lost(device_id, error)


async def test_it_retries_an_unreachable_device_and_reconnects_after_a_loss() -> None:
    connector = FakeConnector(Unreachable("a"), Unreachable("b"))
    recorder = Recorder()
    task = asyncio.create_task(coordinator(connector, recorder).run())
    try:
        await recorder.until(3)
        assert recorder.seen == ["unreachable", "unreachable", "connected"]
        assert connector.drop is not None
        connector.drop()
        await recorder.until(5)
        assert recorder.seen[3:] == ["unreachable", "connected"]
    finally:
        task.cancel()


async def test_wrong_credentials_wait_until_told_to_retry() -> None:
    connector = FakeConnector(WrongCredentials("refused"))
    recorder = Recorder()
    coord = coordinator(connector, recorder)
    task = asyncio.create_task(coord.run())
    try:
        await recorder.until(1)
        assert recorder.seen == ["wrong_credentials"]
        assert coord.waiting_s == 3600  # backs off long: no retry storm
        assert connector.opened == 1
        coord.retry_now()
        await recorder.until(2)
        assert recorder.seen == ["wrong_credentials", "connected"]
    finally:
        task.cancel()
