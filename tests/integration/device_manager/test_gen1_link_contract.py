"""The DeviceLink contract, held by the Gen1 link (aioshelly BlockDevice) against the
simulator: config, setters, reboot, password, firmware, and only domain errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from hearth.demo.shelly.gen1 import SimGen1Device
from hearth_device_manager.adapters.coiot import Coiot
from hearth_device_manager.adapters.gen1 import BlockLink, Gen1Connector
from hearth_device_manager.adapters.ports import LinkTarget
from hearth_device_manager.domain.errors import OtherDeviceError, Unreachable, WrongCredentials
from tests.integration.device_manager.gen1_support import free_udp_port, gen1_device


@pytest.fixture
async def connector() -> AsyncIterator[Gen1Connector]:
    coiot = Coiot(free_udp_port())
    async with aiohttp.ClientSession() as session:
        yield Gen1Connector(session, coiot, poll_s=3600)
    coiot.close()


def target(sim: SimGen1Device, password: str | None = None, port: int = 80) -> LinkTarget:
    return LinkTarget(sim.device_id, sim.mac, 1, sim.host, port, password)


async def opened(connector: Gen1Connector, sim: SimGen1Device, **kw: Any) -> BlockLink:
    return await connector.open(target(sim, **kw), lambda status: None, lambda: None)


async def test_read_config_and_send_setters(connector: Gen1Connector) -> None:
    async with gen1_device("SHPLG-S", 10) as sim:
        link = await opened(connector, sim)
        try:
            config = await link.read_config()
            assert config["device"]["type"] == "SHPLG-S"
            assert "password" not in config["login"] and "key" not in config["wifi_ap"]
            restart = await link.send(
                [("/settings", {"name": "kitchen"}), ("/settings/relay/0", {"default_state": "on"})]
            )
            assert restart is False
            config = await link.read_config()
            assert config["name"] == "kitchen"
            assert config["relays"][0]["default_state"] == "on"
            assert link.status["sys"]["cfg_rev"] == 0  # status as Gen2: cfg_changed_cnt
            assert link.status["switch:0"] == {"id": 0, "output": False, "apower": 0.0}
        finally:
            await link.close()


async def test_reboot_password_and_firmware(connector: Gen1Connector) -> None:
    async with gen1_device("SHSW-1", 11) as sim:
        link = await opened(connector, sim)
        try:
            await link.reboot()
            assert sim.reboots == 1
            await sim.wait_booted(2)

            await link.set_password("correct horse")
            assert sim.settings["login"]["enabled"] and sim.password == "correct horse"
            assert (await link.read_config())["login"]["enabled"]  # the link uses it now
            await link.set_password(None)
            assert not sim.settings["login"]["enabled"]
            assert not (await link.read_config())["login"]["enabled"]

            assert await link.check_firmware() == {}
            sim.offer_update(stable="20240101-000000/v1.14.1-g1", beta="20240201-000000/v1.15.0-b1")
            assert await link.check_firmware() == {
                "stable": "20240101-000000/v1.14.1-g1",
                "beta": "20240201-000000/v1.15.0-b1",
            }
            await link.update_firmware("stable")
            await sim.wait_booted(3)  # it installs what it offered and reboots on it
            assert sim.fw == "20240101-000000/v1.14.1-g1"
            sim.offer_update(beta="20240201-000000/v1.15.0-b1")  # a newer beta since
            await link.update_firmware("beta")
            await sim.wait_booted(4)
            assert sim.fw == "20240201-000000/v1.15.0-b1"
            assert sim.ota_requests == [{"update": "true"}, {"beta": "true"}]
        finally:
            await link.close()


async def test_failures_are_domain_errors(connector: Gen1Connector) -> None:
    async with gen1_device("SHDM-2", 12) as sim:
        sim.set_password("right")
        with pytest.raises(WrongCredentials, match=sim.device_id):
            await opened(connector, sim, password="wrong")
        with pytest.raises(OtherDeviceError, match="port 80 only"):
            await opened(connector, sim, password="right", port=8080)
        link = await opened(connector, sim, password="right")
        try:
            await sim.go_offline()
            with pytest.raises(Unreachable, match=sim.device_id):
                await link.read_config()
        finally:
            await link.close()
