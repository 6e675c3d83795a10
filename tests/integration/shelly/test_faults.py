"""Faults on demand, seen through the real aioshelly client."""

from __future__ import annotations

import contextlib
import socket

import aiohttp
import pytest
from aioshelly.exceptions import DeviceConnectionError, InvalidAuthError

from hearth.demo.shelly import MODELS, Fleet
from tests.integration.shelly.conftest import Updates, connect


async def test_offline_refuses_then_comes_back_on_another_port(
    session: aiohttp.ClientSession,
) -> None:
    async with Fleet([MODELS["Plus1PM"]]) as fleet:
        sim = fleet.devices[0]
        device = await connect(session, sim)
        updates = Updates(device)
        old_port = sim.port
        await sim.go_offline()
        await updates.wait_for(lambda: not device.connected)
        await device.shutdown()
        with pytest.raises(DeviceConnectionError):
            await connect(session, sim)
        await sim.come_online(port=0)
        assert sim.port != old_port
        device = await connect(session, sim)
        assert device.status["sys"]["mac"] == sim.mac
        await device.shutdown()


async def test_slow_device_times_out_the_caller(session: aiohttp.ClientSession) -> None:
    async with Fleet([MODELS["Plus1PM"]]) as fleet:
        sim = fleet.devices[0]
        device = await connect(session, sim)
        sim.slow_s = 30.0
        try:
            with pytest.raises(DeviceConnectionError):
                await device.call_rpc("Shelly.GetStatus", timeout=0.1)
        finally:
            sim.slow_s = 0.0
            await device.shutdown()


async def test_password_changed_behind_our_back(session: aiohttp.ClientSession) -> None:
    async with Fleet([MODELS["Plus1PM"]]) as fleet:
        sim = fleet.devices[0]
        sim.set_password("ours")
        device = await connect(session, sim, "ours")
        sim.set_password("theirs")
        try:
            with pytest.raises(InvalidAuthError):
                await device.call_rpc("Shelly.GetConfig")
        finally:
            await device.shutdown()


async def test_reboot_mid_apply_comes_back_applied_without_restart_required(
    session: aiohttp.ClientSession,
) -> None:
    async with Fleet([MODELS["PlusPlugS"]]) as fleet:
        sim = fleet.devices[0]
        device = await connect(session, sim)
        updates = Updates(device)
        sim.reboot_on_next_set = True
        # the socket may drop before the reply leaves, as on a real device
        with contextlib.suppress(DeviceConnectionError):
            await device.call_rpc("MQTT.SetConfig", {"config": {"enable": True}})
        await updates.wait_for(lambda: not device.connected)
        await device.shutdown()
        await sim.wait_booted(2)
        device = await connect(session, sim)
        assert device.config["mqtt"]["enable"] is True
        assert device.status["sys"]["restart_required"] is False
        assert sim.boots == 2
        await device.shutdown()


async def test_config_changed_behind_our_back_is_pushed(session: aiohttp.ClientSession) -> None:
    async with Fleet([MODELS["Pro4PM"]]) as fleet:
        sim = fleet.devices[0]
        device = await connect(session, sim)
        updates = Updates(device)
        rev = device.status["sys"]["cfg_rev"]
        try:
            sim.change_behind_back("switch:1", {"name": "kettle"})
            await updates.wait_for(lambda: "config_changed" in updates.names())
            event = updates.events[-1]
            assert (event["component"], event["cfg_rev"]) == ("switch:1", rev + 1)
            assert (await device.call_rpc("Switch.GetConfig", {"id": 1}))["name"] == "kettle"
        finally:
            await device.shutdown()


async def test_failing_firmware_update_reports_ota_error(session: aiohttp.ClientSession) -> None:
    async with Fleet([MODELS["Mini1PMG3"]]) as fleet:
        sim = fleet.devices[0]
        sim.offer_update(stable="9.9.9")
        sim.ota_fails = True
        device = await connect(session, sim)
        updates = Updates(device)
        try:
            await device.trigger_ota_update()
            await updates.wait_for(lambda: "ota_error" in updates.names())
            assert "ota_success" not in updates.names()
            assert (await device.call_rpc("Shelly.GetDeviceInfo"))["ver"] == sim.model.ver
        finally:
            await device.shutdown()


async def test_a_device_that_is_down_keeps_its_port_for_its_return(
    session: aiohttp.ClientSession,
) -> None:
    """While it reboots nobody else gets its address (on a loaded machine an outgoing
    connection or another server took a released port, and the device never came back);
    connections are refused meanwhile, as by a device that is off."""
    async with Fleet([MODELS["Plus1PM"]]) as fleet:
        sim = fleet.devices[0]
        await sim.go_offline()
        with socket.socket() as other, pytest.raises(OSError, match="in use"):
            other.bind((sim.host, sim.port))
        with pytest.raises(DeviceConnectionError):
            await connect(session, sim)
        port = sim.port
        await sim.come_online()
        assert sim.port == port
        device = await connect(session, sim)
        await device.shutdown()
