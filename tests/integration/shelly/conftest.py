"""Fixtures for driving simulated Shelly devices with the real aioshelly client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aioshelly.common import ConnectionOptions
from aioshelly.rpc_device import RpcDevice, RpcUpdateType

from hearth.demo.shelly import SimDevice


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def connect(
    session: aiohttp.ClientSession, sim: SimDevice, password: str | None = None
) -> RpcDevice:
    options = ConnectionOptions(
        sim.host, "admin" if password else None, password, port=sim.port, device_mac=sim.mac
    )
    device = await RpcDevice.create(session, None, options)
    await device.initialize()
    return device


class Updates:
    """Collects aioshelly's update callbacks; ``wait_for`` waits on a condition, not a clock."""

    def __init__(self, device: RpcDevice) -> None:
        self.events: list[dict[str, Any]] = []
        self.kinds: list[RpcUpdateType] = []
        self._changed = asyncio.Condition()
        device.subscribe_updates(self._on_update)

    def _on_update(self, device: RpcDevice, kind: RpcUpdateType) -> None:
        self.kinds.append(kind)
        if kind is RpcUpdateType.EVENT and device.event:
            self.events.extend(device.event.get("events", []))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(predicate)

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]
