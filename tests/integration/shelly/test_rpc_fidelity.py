"""aioshelly itself, over real sockets, against every simulated Gen2+ model."""

from __future__ import annotations

import aiohttp
import pytest
from aioshelly.exceptions import InvalidAuthError, RpcCallError

from hearth.demo.shelly import MODELS, Fleet, SimDevice
from hearth.demo.shelly.auth import make_ha1
from tests.integration.shelly.conftest import Updates, connect


@pytest.mark.parametrize("app", sorted(MODELS))
async def test_every_model_initializes_with_aioshelly(
    session: aiohttp.ClientSession, app: str
) -> None:
    async with Fleet([MODELS[app]]) as fleet:
        sim = fleet.devices[0]
        device = await connect(session, sim)
        try:
            assert device.initialized
            assert device.model == sim.model.model
            assert device.gen == sim.model.gen
            assert device.firmware_supported
            assert device.status["sys"]["mac"] == sim.mac
            assert "wifi" in device.config
        finally:
            await device.shutdown()


async def test_many_devices_share_one_address(session: aiohttp.ClientSession) -> None:
    async with Fleet([MODELS["Plus1PM"]] * 3) as fleet:
        ports = {d.port for d in fleet.devices}
        assert len(ports) == 3
        for sim in fleet.devices:
            async with session.get(f"{sim.url}/shelly") as resp:
                assert (await resp.json())["id"] == sim.device_id


async def test_call_rpc_methods_and_cfg_rev_rises(session: aiohttp.ClientSession) -> None:
    async with Fleet([MODELS["Pro4PM"]]) as fleet:
        device = await connect(session, fleet.devices[0])
        try:
            rev = (await device.call_rpc("Shelly.GetStatus"))["sys"]["cfg_rev"]
            reply = await device.call_rpc("Switch.SetConfig", {"id": 2, "config": {"name": "pump"}})
            assert reply == {"restart_required": False}
            assert (await device.call_rpc("Switch.GetConfig", {"id": 2}))["name"] == "pump"
            reply = await device.call_rpc(
                "MQTT.SetConfig", {"config": {"enable": True, "server": "mq:1883"}}
            )
            assert reply == {"restart_required": True}
            status = await device.call_rpc("Sys.GetStatus")
            assert status["cfg_rev"] == rev + 2 and status["restart_required"]
            await device.call_rpc("KVS.Set", {"key": "owner", "value": "hearth"})
            assert (await device.call_rpc("KVS.Get", {"key": "owner"}))["value"] == "hearth"
            assert "owner" in (await device.call_rpc("KVS.List"))["keys"]
            assert "Cover.Open" in await device.methods_list()
            assert await device.call_rpc("Script.List") == {"scripts": []}
            with pytest.raises(RpcCallError):
                await device.call_rpc("Switch.GetConfig", {"id": 9})
        finally:
            await device.shutdown()


async def test_right_password_works_and_wrong_raises(session: aiohttp.ClientSession) -> None:
    async with Fleet([MODELS["Plus1PM"]]) as fleet:
        sim = fleet.devices[0]
        sim.set_password("s3cret")
        device = await connect(session, sim, "s3cret")
        try:
            assert device.requires_auth
            for _ in range(3):  # every call counts nc up
                await device.call_rpc("Shelly.GetConfig")
        finally:
            await device.shutdown()
        with pytest.raises(InvalidAuthError):
            await connect(session, sim, "wrong")


async def test_set_auth_over_rpc_then_http_digest(session: aiohttp.ClientSession) -> None:
    async with Fleet([MODELS["PlusPlugS"]]) as fleet:
        sim = fleet.devices[0]
        device = await connect(session, sim)
        ha1 = make_ha1(sim.device_id, "pw")
        await device.call_rpc(
            "Shelly.SetAuth", {"user": "admin", "realm": sim.device_id, "ha1": ha1}
        )
        await device.shutdown()
        async with session.get(f"{sim.url}/rpc/Shelly.GetConfig") as resp:
            assert resp.status == 401
            assert "SHA-256" in resp.headers["WWW-Authenticate"]
        auth = aiohttp.DigestAuthMiddleware("admin", "pw")
        async with aiohttp.ClientSession(middlewares=(auth,)) as digest:
            async with digest.get(f"{sim.url}/rpc/Switch.GetStatus?id=0") as resp:
                assert resp.status == 200 and (await resp.json())["id"] == 0
            body = {"id": 1, "method": "Sys.GetConfig"}
            async with digest.post(f"{sim.url}/rpc", json=body) as resp:
                assert (await resp.json())["result"]["device"]["mac"] == sim.mac


async def test_status_change_reaches_the_subscriber(session: aiohttp.ClientSession) -> None:
    async with Fleet([MODELS["Plus1PM"]]) as fleet:
        device = await connect(session, fleet.devices[0])
        updates = Updates(device)
        try:
            await device.call_rpc("Switch.Set", {"id": 0, "on": True})
            await updates.wait_for(lambda: device.status["switch:0"]["output"] is True)
        finally:
            await device.shutdown()


async def test_ota_update_produces_events_and_new_version(session: aiohttp.ClientSession) -> None:
    async with Fleet([MODELS["Plus1PM"]]) as fleet:
        sim: SimDevice = fleet.devices[0]
        sim.offer_update(stable="1.5.0")
        device = await connect(session, sim)
        updates = Updates(device)
        try:
            await device.trigger_ota_update()
            await updates.wait_for(lambda: "ota_success" in updates.names())
            assert updates.names()[:2] == ["ota_begin", "ota_progress"]
        finally:
            await device.shutdown()
        await sim.wait_booted(2)  # ota_success leaves before the reboot starts
        device = await connect(session, sim)
        assert device.version == "1.5.0"
        await device.shutdown()


async def test_cover_light_and_input_methods(session: aiohttp.ClientSession) -> None:
    async with Fleet([MODELS["Plus2PM"], MODELS["DimmerG3"]]) as fleet:
        cover = await connect(session, fleet.devices[0])
        light = await connect(session, fleet.devices[1])
        try:
            assert "switch:0" not in cover.status
            await cover.call_rpc("Cover.GoToPosition", {"id": 0, "pos": 40})
            assert (await cover.call_rpc("Cover.GetStatus", {"id": 0}))["current_pos"] == 40
            await light.call_rpc("Light.Set", {"id": 0, "on": True, "brightness": 80})
            status = await light.call_rpc("Light.GetStatus", {"id": 0})
            assert (status["output"], status["brightness"]) == (True, 80.0)
            assert (await light.call_rpc("Input.GetConfig", {"id": 1}))["type"] == "switch"
        finally:
            await cover.shutdown()
            await light.shutdown()
