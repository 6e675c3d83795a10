"""Gen1 devices under the device manager: HTTP :80 with aioshelly's BlockDevice, status from
CoIoT with /status polling as the fallback, basic auth, a device that moves to another IP."""

from __future__ import annotations

from typing import Any

import pytest

from hearth.demo.shelly.gen1 import SimGen1Device
from tests.integration.device_manager.gen1_support import free_udp_port, gen1_device
from tests.integration.device_manager.harness import World

NO_POLL_S = 3600.0  # status can only come from CoIoT


async def discover(world: World, sim: SimGen1Device) -> dict[str, Any]:
    reply = await world.command("Discover", cidrs=[sim.host], ports=[80], actor="test")
    assert reply["ok"], reply
    return reply


def coiot_options(poll_s: float = NO_POLL_S) -> dict[str, Any]:
    port = free_udp_port()
    return {"coiot_port": port, "coiot_peer": f"127.0.0.1:{port}", "gen1_poll_s": poll_s}


@pytest.mark.parametrize(
    ("kind", "n", "component", "press"),
    [
        ("SHSW-1", 1, "switch:0", "relay"),
        ("SHPLG-S", 2, "switch:0", "relay"),
        ("SHDM-2", 3, "light:0", "light"),
    ],
)
async def test_a_gen1_device_goes_online_and_a_press_arrives_by_coiot(
    world: World, kind: str, n: int, component: str, press: str
) -> None:
    async with gen1_device(kind, n) as sim:
        options = coiot_options()
        await world.start(**options)
        await discover(world, sim)
        adopted = await world.command("Adopt", device_id=sim.device_id, name=f"gen1-{n}")
        assert adopted["ok"], adopted

        status = await world.wait_status(sim.device_id, lambda s: s["online"])
        assert status["address"] == sim.host and status["gen"] == 1 and status["model"] == kind
        assert status["components"][component]["output"] is False
        assert status["cfg_rev"] >= 0
        await world.wait_events(lambda: bool(world.named("DeviceOnline", sim.device_id)))
        assert sim.settings["coiot"]["peer"] == options["coiot_peer"]  # set by Hearth
        await sim.wait_booted(2)  # and in effect after the reboot Hearth asked for
        assert sim.reboots == 1

        sim.press(press, 0, on=True)
        status = await world.wait_status(
            sim.device_id, lambda s: s["components"][component]["output"]
        )
        assert status["online"]
        assert sim.pushes >= 1


async def test_status_is_polled_when_coiot_stays_silent(world: World) -> None:
    async with gen1_device("SHPLG-S", 4, muted=True) as sim:  # updates lost on the way
        await world.start(**coiot_options(poll_s=0.2))
        await discover(world, sim)
        await world.command("Adopt", device_id=sim.device_id, name="plug")
        await world.wait_status(sim.device_id, lambda s: s["online"])

        sim.status["meters"][0]["power"] = 42.5
        sim.press("relay", 0, on=True)
        assert sim.pushes == 0  # muted since before it booted
        status = await world.wait_status(
            sim.device_id,
            lambda s: s["components"]["switch:0"] == {"output": True, "apower": 42.5},
        )
        assert status["online"]


async def test_a_wrong_password_is_one_clear_error(world: World) -> None:
    async with gen1_device("SHSW-1", 5) as sim:
        sim.set_password("right horse battery")
        await world.secret("shed-password", "wrong")
        manager = await world.start(**coiot_options())
        await discover(world, sim)
        reply = await world.command(
            "ApplyDevices",
            devices=[
                {"name": "shed", "device_id": sim.device_id, "password_secret": "shed-password"}
            ],
        )
        assert reply["ok"], reply
        status = await world.wait_status(sim.device_id, lambda s: "error" in s)
        assert status == {
            "online": False,
            "address": sim.host,
            "model": "SHSW-1",
            "gen": 1,
            "error": "wrong_credentials",
        }
        assert manager.handlers is not None
        coordinator, _ = manager.handlers.coordinators[sim.device_id]
        assert coordinator.attempts == 1
        assert coordinator.waiting_s >= 3600 * 0.8  # backs off long: no retry storm

        await world.secret("shed-password", "right horse battery")
        coordinator.retry_now()
        await world.wait_status(sim.device_id, lambda s: s["online"])


async def test_a_gen1_device_on_another_address_is_followed_by_mac(world: World) -> None:
    async with gen1_device("SHSW-1", 6) as sim:
        await world.start(**coiot_options(poll_s=0.2))
        await discover(world, sim)
        await world.command("Adopt", device_id=sim.device_id, name="hall")
        await world.wait_status(sim.device_id, lambda s: s["online"])

        await sim.go_offline()
        await world.wait_status(sim.device_id, lambda s: not s["online"])
        await sim.come_online(host="127.0.0.77")
        reply = await discover(world, sim)
        assert reply["found"][0]["address"] == "127.0.0.77"

        status = await world.wait_status(
            sim.device_id, lambda s: s["online"] and s["address"] == "127.0.0.77"
        )
        assert status["components"]["switch:0"]["output"] is False
        # Events reach the stream through the relay, after the status: DeviceAdopted was
        # stored after the first discovery, so once it is here that discovery is too.
        await world.wait_events(lambda: bool(world.named("DeviceAdopted", sim.device_id)))
        assert len(world.named("DeviceDiscovered", sim.device_id)) == 1
