"""mDNS discovery: a simulated device's service registered with zeroconf on loopback."""

from __future__ import annotations

import socket

from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from hearth.demo.shelly import Fleet
from hearth.demo.shelly.models import PLUS_1PM
from tests.integration.device_manager.harness import World


async def test_a_device_announced_by_mdns_is_discovered(world: World) -> None:
    async with Fleet([PLUS_1PM]) as fleet:
        (sim,) = fleet.devices
        await world.start(discovery_mdns=True, discovery_mdns_interfaces=["127.0.0.1"])
        announcer = AsyncZeroconf(interfaces=["127.0.0.1"])
        info = ServiceInfo(
            "_shelly._tcp.local.",
            f"{sim.device_id}._shelly._tcp.local.",
            addresses=[socket.inet_aton(sim.host)],
            port=sim.port,
            server=f"{sim.device_id}.local.",
        )
        try:
            await announcer.async_register_service(info)
            await world.wait_events(lambda: bool(world.named("DeviceDiscovered", sim.device_id)))
        finally:
            await announcer.async_close()
        (found,) = world.named("DeviceDiscovered", sim.device_id)
        assert found.data.address == f"127.0.0.1:{sim.port}"  # type: ignore[attr-defined]
