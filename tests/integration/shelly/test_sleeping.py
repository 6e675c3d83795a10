"""A sleeping H&T: silent while asleep, announces itself on the outbound WebSocket on waking."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aioshelly.common import ConnectionOptions
from aioshelly.exceptions import DeviceConnectionError
from aioshelly.rpc_device import RpcDevice, RpcUpdateType, WsServer

from hearth.demo.shelly import MODELS, Fleet
from hearth.demo.shelly.sleeper import doze, wake
from tests.integration.shelly.conftest import Updates, connect


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_asleep_answers_nothing_and_wakes_onto_the_outbound_websocket(
    session: aiohttp.ClientSession,
) -> None:
    port = _free_port()
    server = WsServer()
    await server.initialize(port)
    async with Fleet([MODELS["PlusHT"]]) as fleet:
        sim = fleet.devices[0]
        first = await connect(session, sim)
        assert first.status["sys"]["wakeup_period"] == 7200
        reply = await first.ws_setconfig(True, f"ws://127.0.0.1:{port}/api/shelly/ws")
        assert reply["restart_required"]
        await first.shutdown()
        await doze(sim)
        with pytest.raises(DeviceConnectionError):
            await connect(session, sim)
        options = ConnectionOptions(sim.host, port=sim.port, device_mac=sim.mac)
        device = await RpcDevice.create(session, server, options)
        updates = Updates(device)
        await wake(sim, session)
        await updates.wait_for(lambda: RpcUpdateType.ONLINE in updates.kinds)
        await device.initialize()
        assert device.status["temperature:0"]["tC"] == 21.5
        await device.shutdown()
    server.close()
