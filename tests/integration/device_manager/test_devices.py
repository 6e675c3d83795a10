"""Discovery, adoption, live status and presence of simulated Shelly devices."""

from __future__ import annotations

from typing import Any

from hearth.demo.shelly import Fleet, SimDevice
from hearth.demo.shelly.models import PLUS_1PM
from tests.integration.device_manager.harness import World


async def discover(world: World, *devices: SimDevice) -> dict[str, Any]:
    return await world.command(
        "Discover", cidrs=["127.0.0.1"], ports=[d.port for d in devices], actor="test"
    )


async def test_a_scan_finds_devices_once_and_a_declaration_adopts_them(world: World) -> None:
    async with Fleet([PLUS_1PM, PLUS_1PM]) as fleet:
        await world.start()
        first, second = fleet.devices
        reply = await discover(world, first, second)
        assert reply["ok"], reply
        assert {d["device_id"] for d in reply["found"]} == {first.device_id, second.device_id}
        again = await discover(world, first, second)
        assert again["ok"], again

        applied = await world.command(
            "ApplyDevices",
            devices=[{"name": "porch", "mac": first.mac.lower(), "groups": ["outside"]}],
            actor="hearth apply",
        )
        assert applied["ok"], applied
        assert applied["changes"] == [{"type": "DeviceAdopted", "name": "porch"}]

        status = await world.wait_status(first.device_id, lambda s: s["online"])
        assert status["address"] == f"127.0.0.1:{first.port}"
        assert status["components"]["switch:0"]["output"] is False
        await world.wait_events(lambda: bool(world.named("DeviceOnline", first.device_id)))
        assert len(world.named("DeviceDiscovered", first.device_id)) == 1
        assert len(world.named("DeviceDiscovered", second.device_id)) == 1
        assert [e.data.name for e in world.named("DeviceAdopted")] == ["porch"]  # type: ignore[attr-defined]

        first.set_status("switch:0", {"output": True})
        status = await world.wait_status(
            first.device_id, lambda s: s["components"]["switch:0"]["output"]
        )
        assert status["online"]


async def test_a_device_going_away_and_back_goes_offline_and_online(world: World) -> None:
    async with Fleet([PLUS_1PM]) as fleet:
        await world.start()
        (sim,) = fleet.devices
        await discover(world, sim)
        adopted = await world.command("Adopt", device_id=sim.device_id, name="kitchen")
        assert adopted["ok"], adopted
        await world.wait_events(lambda: bool(world.named("DeviceOnline", sim.device_id)))

        await sim.go_offline()
        status = await world.wait_status(sim.device_id, lambda s: not s["online"])
        assert status["error"] == "unreachable"
        await world.wait_events(lambda: bool(world.named("DeviceOffline", sim.device_id)))

        await sim.come_online()
        await world.wait_status(sim.device_id, lambda s: s["online"])
        await world.wait_events(lambda: len(world.named("DeviceOnline", sim.device_id)) == 2)
        assert len(world.named("DeviceOffline", sim.device_id)) == 1


async def test_a_device_on_another_port_is_the_same_device(world: World) -> None:
    async with Fleet([PLUS_1PM]) as fleet:
        await world.start()
        (sim,) = fleet.devices
        await discover(world, sim)
        await world.command("Adopt", device_id=sim.device_id, name="garage")
        await world.wait_status(sim.device_id, lambda s: s["online"])
        old_port = sim.port

        await sim.go_offline()
        await sim.come_online(port=0)
        assert sim.port != old_port
        reply = await discover(world, sim)
        assert reply["found"][0]["address"] == f"127.0.0.1:{sim.port}"

        status = await world.wait_status(
            sim.device_id, lambda s: s["online"] and s["address"].endswith(f":{sim.port}")
        )
        assert status["address"] == f"127.0.0.1:{sim.port}"
        # Events reach the stream through the relay, after the status: DeviceAdopted was
        # stored after the first discovery, so once it is here that discovery is too.
        await world.wait_events(lambda: bool(world.named("DeviceAdopted", sim.device_id)))
        assert len(world.named("DeviceDiscovered", sim.device_id)) == 1


async def test_a_wrong_password_is_one_clear_error(world: World) -> None:
    async with Fleet([PLUS_1PM]) as fleet:
        (sim,) = fleet.devices
        sim.set_password("right horse battery")
        await world.secret("porch-password", "wrong")
        manager = await world.start()
        await discover(world, sim)
        reply = await world.command(
            "ApplyDevices",
            devices=[
                {"name": "porch", "device_id": sim.device_id, "password_secret": "porch-password"}
            ],
        )
        assert reply["ok"], reply
        status = await world.wait_status(sim.device_id, lambda s: "error" in s)
        assert status == {
            "online": False,
            "address": f"127.0.0.1:{sim.port}",
            "model": sim.model.model,
            "gen": sim.model.gen,
            "error": "wrong_credentials",
        }
        assert manager.handlers is not None
        coordinator, _ = manager.handlers.coordinators[sim.device_id]
        assert coordinator.attempts == 1
        assert coordinator.waiting_s >= 3600 * 0.8  # backs off long (jitter): no retry storm

        await world.secret("porch-password", "right horse battery")
        coordinator.retry_now()
        await world.wait_status(sim.device_id, lambda s: s["online"])


async def test_a_declared_device_is_adopted_when_discovery_finds_it(world: World) -> None:
    async with Fleet([PLUS_1PM]) as fleet:
        (sim,) = fleet.devices
        await world.start()
        applied = await world.command(
            "ApplyDevices", devices=[{"name": "attic", "device_id": sim.device_id}]
        )
        assert applied["ok"], applied
        assert applied["waiting"] == ["attic"]
        assert applied["changes"] == []

        await discover(world, sim)
        await world.wait_events(lambda: bool(world.named("DeviceOnline", sim.device_id)))
        assert [e.data.name for e in world.named("DeviceAdopted")] == ["attic"]  # type: ignore[attr-defined]
