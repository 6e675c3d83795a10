"""The shared CoIoT socket when its port is taken: a plain socket on another port still gets
the devices' replies, so Gen1 devices connect (status then comes by polling)."""

from __future__ import annotations

import socket

import aiohttp

from hearth_device_manager.adapters.coiot import Coiot
from hearth_device_manager.adapters.gen1 import Gen1Connector
from hearth_device_manager.adapters.ports import LinkTarget
from tests.integration.device_manager.gen1_support import free_udp_port, gen1_device


async def test_a_taken_port_degrades_to_another_and_devices_still_connect() -> None:
    port = free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("", port))  # without SO_REUSEADDR: nobody else may bind it
        coiot = Coiot(port)
        async with gen1_device("SHSW-1", 13) as sim, aiohttp.ClientSession() as session:
            link = await Gen1Connector(session, coiot, poll_s=3600).open(
                LinkTarget(sim.device_id, sim.mac, 1, sim.host, 80),
                lambda status: None,
                lambda: None,
            )
            try:
                assert coiot.port not in (None, port)
                assert link.status["switch:0"]["output"] is False
            finally:
                await link.close()
                coiot.close()
