"""One contract for the ``DeviceLink`` port: the in-memory ``MemoryLink`` the unit tests use
must behave like ``RpcLink`` (aioshelly) talking to the Gen2 simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from hearth.demo.shelly import Fleet
from hearth.demo.shelly.models import PLUS_1PM, initial_state
from hearth_device_manager.adapters.ports import DeviceLink, LinkTarget
from hearth_device_manager.adapters.shelly import ShellyConnector
from hearth_device_manager.domain.errors import DeviceError
from tests.support.device_link import MemoryLink

MAC = "A0B0C0000001"
DEVICE_ID = f"{PLUS_1PM.id_prefix}-{MAC.lower()}"


@pytest.fixture(params=["memory", "rpc"])
async def link(request: pytest.FixtureRequest) -> AsyncIterator[DeviceLink]:
    if request.param == "memory":
        config, status = initial_state(PLUS_1PM, MAC, DEVICE_ID)
        yield MemoryLink(status, config, offers={"stable": "1.5.0"})
        return
    async with Fleet([PLUS_1PM]) as fleet, aiohttp.ClientSession() as session:
        (sim,) = fleet.devices
        assert sim.device_id == DEVICE_ID
        sim.offer_update(stable="1.5.0")
        target = LinkTarget(sim.device_id, sim.mac, 2, sim.host, sim.port)
        opened = await ShellyConnector(session).open(target, lambda status: None, lambda: None)
        try:
            yield opened
        finally:
            await opened.close()


async def test_the_config_reads_as_shelly_getconfig_and_is_a_copy(link: DeviceLink) -> None:
    config = await link.read_config()
    assert config["switch:0"]["auto_off"] is False
    assert config["sys"]["device"]["mac"] == MAC
    assert config["sys"]["cfg_rev"] == 0
    config["switch:0"]["auto_off"] = True
    assert (await link.read_config())["switch:0"]["auto_off"] is False


async def test_setconfig_changes_only_what_it_names_and_raises_cfg_rev(link: DeviceLink) -> None:
    restart = await link.send(
        [
            ("Sys.SetConfig", {"config": {"device": {"name": "Porch"}}}),
            ("Switch.SetConfig", {"id": 0, "config": {"auto_off": True}}),
        ]
    )
    assert restart is False
    config = await link.read_config()
    assert config["sys"]["device"]["name"] == "Porch"
    assert config["sys"]["device"]["mac"] == MAC  # a nested change keeps its siblings
    assert config["switch:0"]["auto_off"] is True
    assert config["switch:0"]["auto_off_delay"] == 60.0
    assert config["sys"]["cfg_rev"] == 2


async def test_network_services_say_restart_required(link: DeviceLink) -> None:
    assert await link.send([("MQTT.SetConfig", {"config": {"enable": True}})]) is True
    assert (await link.read_config())["mqtt"]["enable"] is True


async def test_a_component_the_device_lacks_is_a_device_error(link: DeviceLink) -> None:
    with pytest.raises(DeviceError, match="-105"):
        await link.send([("Switch.SetConfig", {"id": 7, "config": {"auto_off": True}})])


async def test_firmware_offers_by_channel(link: DeviceLink) -> None:
    assert await link.check_firmware() == {"stable": "1.5.0"}
