"""The simulator's CoIoT pushes and sleeping H&T, seen through aioshelly's COAP/BlockDevice."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aioshelly.block_device import COAP, BlockDevice, BlockUpdateType
from aioshelly.common import ConnectionOptions
from aioshelly.exceptions import DeviceConnectionError

from hearth.demo.shelly.gen1 import SimGen1Device
from hearth.demo.shelly.gen1_models import GEN1_MODELS, H_T


@pytest.fixture
async def coap() -> AsyncIterator[tuple[COAP, int]]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("", 0))
        port = int(sock.getsockname()[1])
    context = COAP()
    await context.initialize(port)
    yield context, port
    context.close()


class Kinds:
    def __init__(self, device: BlockDevice) -> None:
        self.seen: list[BlockUpdateType] = []
        self._changed = asyncio.Event()
        device.subscribe_updates(self._on_update)

    def _on_update(self, device: BlockDevice, kind: BlockUpdateType) -> None:
        self.seen.append(kind)
        self._changed.set()

    async def wait_for(self, kind: BlockUpdateType) -> None:
        async with asyncio.timeout(10):
            while kind not in self.seen:
                self._changed.clear()
                await self._changed.wait()


async def test_a_press_is_pushed_to_the_configured_peer(coap: tuple[COAP, int]) -> None:
    context, port = coap
    sim = SimGen1Device(GEN1_MODELS["SHSW-1"], "A0B0C0D0E045", "127.0.0.45")
    await sim.start()
    async with aiohttp.ClientSession() as session:
        device = await BlockDevice.create(session, context, ConnectionOptions(sim.host))
        try:
            await device.initialize()
            await device.configure_coiot_protocol("127.0.0.1", port)
            assert sim.settings["coiot"]["peer"] == f"127.0.0.1:{port}"
            kinds = Kinds(device)
            sim.press("relay", 0, on=True)  # the new peer is not in effect before a reboot
            await device.trigger_reboot()
            await sim.wait_booted(2)  # it announces itself to the new peer when it boots
            await kinds.wait_for(BlockUpdateType.COAP_PERIODIC)
            kinds.seen.clear()
            sim.press("relay", 0, on=False)
            await kinds.wait_for(BlockUpdateType.COAP_PERIODIC)
            relay = next(b for b in device.blocks if b.type == "relay")
            assert relay.current_values()["output"] == 0

            sim.coiot_muted = True  # pushes lost; requests are still answered
            pushes = sim.pushes
            sim.press("relay", 0, on=True)
            assert sim.pushes == pushes
            await device.update()
            assert relay.current_values()["output"] == 1
        finally:
            await device.shutdown()
            await sim.stop()


async def test_a_sleeping_ht_wakes_onto_coiot(coap: tuple[COAP, int]) -> None:
    context, port = coap
    sim = SimGen1Device(H_T, "A0B0C0D0E046", "127.0.0.46")
    sim.settings["coiot"]["peer"] = f"127.0.0.1:{port}"
    await sim.start()
    async with aiohttp.ClientSession() as session:
        options = ConnectionOptions(sim.host, device_mac=sim.mac)
        try:
            awake = await BlockDevice.create(session, context, options)
            await awake.initialize()
            assert awake.shelly["sleep_mode"] is True
            assert awake.settings["sleep_mode"] == {"period": 360, "unit": "m"}
            sensor = next(b for b in awake.blocks if b.type == "sensor")
            values = sensor.current_values()
            assert (values["temp"], values["humidity"]) == (21.5, 48.0)
            await awake.shutdown()

            await sim.doze()
            asleep = await BlockDevice.create(session, context, options)
            with pytest.raises(DeviceConnectionError):
                await asleep.initialize()
            kinds = Kinds(asleep)
            await sim.wake()
            await kinds.wait_for(BlockUpdateType.ONLINE)  # as Home Assistant learns it
            await asleep.initialize()
            assert asleep.initialized
            await asleep.shutdown()
        finally:
            await sim.stop()
