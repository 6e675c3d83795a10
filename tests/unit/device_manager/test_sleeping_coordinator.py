"""A sleeping device's coordinator against fakes: wake-ups become status, an overdue wake-up
becomes a loss, and the device is contacted only when it is known to be awake."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hearth_device_manager.adapters.coordinator import Coordinator, Sleep
from hearth_device_manager.adapters.ports import DeviceLink, LinkTarget
from hearth_device_manager.domain.errors import Unreachable, WrongCredentials
from tests.unit.device_manager.test_coordinator import (
    TARGET,
    FakeConnector,
    Recorder,
    coordinator,
)

SLEEPER = replace(TARGET, sleeping=True)
PERIOD_S = 0.05


class FakeWakes:
    def __init__(self) -> None:
        self.on_wake: Callable[[dict[str, Any] | None, float | None], None] | None = None
        self.prepared = 0

    def watch(
        self, target: LinkTarget, on_wake: Callable[[dict[str, Any] | None, float | None], None]
    ) -> Callable[[], None]:
        self.on_wake = on_wake
        return lambda: None

    async def prepare(self, target: LinkTarget, link: DeviceLink) -> float | None:
        self.prepared += 1
        return PERIOD_S

    def wake(self, tc: float) -> None:
        assert self.on_wake is not None
        self.on_wake({"temperature:0": {"tC": tc}}, None)


def sleeper(connector: FakeConnector, recorder: Recorder, wakes: FakeWakes) -> Coordinator:
    sleep = Sleep(grace=0.5, default_period_s=PERIOD_S)
    return coordinator(connector, recorder, SLEEPER, wakes=wakes, sleep=sleep)


async def test_wake_ups_are_status_and_an_overdue_one_a_loss_without_reconnects() -> None:
    connector = FakeConnector(Unreachable("asleep"))
    recorder, wakes = Recorder(), FakeWakes()
    coord = sleeper(connector, recorder, wakes)
    task = asyncio.create_task(coord.run())
    try:
        await recorder.until(1)  # asleep when adopted: nothing until the wake-up is overdue
        assert recorder.seen == ["unreachable"] and connector.opened == 1
        wakes.wake(20.0)  # awake: contacted once, its reports pointed at us
        await recorder.until(3)
        assert recorder.seen[1:] == ["connected", "changed"] and wakes.prepared == 1
        await recorder.until(4)
        assert recorder.seen[3] == "unreachable"
        wakes.wake(21.0)
        wakes.wake(22.0)
        await recorder.until(7)
        assert recorder.seen[4:6] == ["changed", "changed"]
        assert connector.opened == 2  # never a reconnect against a sleeping device
    finally:
        task.cancel()


async def test_a_refused_password_is_said_once_per_wake_up_at_most() -> None:
    connector = FakeConnector(WrongCredentials("refused"), WrongCredentials("refused"))
    recorder, wakes = Recorder(), FakeWakes()
    coord = sleeper(connector, recorder, wakes)
    task = asyncio.create_task(coord.run())
    try:
        await recorder.until(1)
        assert recorder.seen == ["wrong_credentials"] and connector.opened == 1
        coord.retry_now()  # a new secret: one contact, refused again
        await recorder.until(2)
        assert recorder.seen == ["wrong_credentials", "wrong_credentials"]
        assert connector.opened == 2
        coord.retry_now()
        await recorder.until(3)
        assert recorder.seen[2] == "connected" and connector.opened == 3
    finally:
        task.cancel()
