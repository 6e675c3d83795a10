"""Sleeping devices (Gen1 H&T, Plus H&T): tracked by their wake-ups, offline only once a
wake-up is overdue, and never reconnected to while asleep. Time is driven by the simulator
(a short wake period, its wake trigger), not by sleeping."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp

from hearth.demo.shelly import MODELS, Fleet
from hearth.demo.shelly.gen1 import SimGen1Device
from hearth.demo.shelly.gen1_models import H_T
from hearth.demo.shelly.sleeper import doze, wake
from tests.integration.device_manager.gen1_support import FIRST_HOST, free_udp_port
from tests.integration.device_manager.harness import World

PERIOD_S = 2.0  # the devices' wake period in these tests (overdue after 3 s)


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _online(status: dict[str, Any]) -> bool:
    return bool(status["online"])


async def test_a_sleeping_plus_ht_is_tracked_by_its_wake_ups(world: World) -> None:
    port = _free_tcp_port()
    url = f"ws://127.0.0.1:{port}/api/shelly/ws"
    async with Fleet([MODELS["PlusHT"]]) as fleet, aiohttp.ClientSession() as session:
        (sim,) = fleet.devices
        sim.status["sys"]["wakeup_period"] = PERIOD_S
        manager = await world.start(wake_ws_port=port, wake_ws_url=url)
        reply = await world.command(
            "Discover", cidrs=["127.0.0.1"], ports=[sim.port], actor="test"
        )  # awake now: just set up, or its button pressed
        assert reply["ok"], reply
        await world.command("Adopt", device_id=sim.device_id, name="bedroom")
        status = await world.wait_status(sim.device_id, _online)
        assert status["components"]["temperature:0"] == {"tC": 21.5}
        assert sim.config["ws"] == {"enable": True, "server": url, "ssl_ca": "*"}  # by Hearth
        await sim.wait_booted(2)  # it asked for a restart, and got one

        await doze(sim)
        sim.status["temperature:0"]["tC"] = 23.0
        await wake(sim, session)
        status = await world.wait_status(
            sim.device_id, lambda s: s["online"] and s["components"]["temperature:0"]["tC"] == 23.0
        )
        await doze(sim)  # and no more wake-ups
        status = await world.wait_status(sim.device_id, lambda s: not s["online"])
        assert status["error"] == "unreachable"
        await world.wait_events(lambda: bool(world.named("DeviceOffline", sim.device_id)))
        assert manager.handlers is not None
        coordinator, _ = manager.handlers.coordinators[sim.device_id]
        assert coordinator.attempts == 1  # one contact while awake, no reconnects while asleep

        await wake(sim, session)
        await world.wait_status(sim.device_id, _online)
        await world.wait_events(lambda: len(world.named("DeviceOnline", sim.device_id)) >= 2)
        assert coordinator.attempts == 1


async def test_a_sleeping_devices_wake_period_is_kept_across_a_restart(world: World) -> None:
    """Restarted while the device sleeps, the device manager still knows how often it
    wakes: the overdue wake-up is reported after its period, not the default six hours."""
    port = _free_tcp_port()
    url = f"ws://127.0.0.1:{port}/api/shelly/ws"
    async with Fleet([MODELS["PlusHT"]]) as fleet:
        (sim,) = fleet.devices
        sim.status["sys"]["wakeup_period"] = PERIOD_S
        await world.start(wake_ws_port=port, wake_ws_url=url)
        reply = await world.command("Discover", cidrs=["127.0.0.1"], ports=[sim.port], actor="test")
        assert reply["ok"], reply
        await world.command("Adopt", device_id=sim.device_id, name="bedroom")
        await world.wait_status(sim.device_id, _online)
        await sim.wait_booted(2)

        await doze(sim)  # asleep from now on
        await world.managers.pop().stop()
        manager = await world.start(wake_ws_port=port, wake_ws_url=url)
        status = await world.wait_status(sim.device_id, lambda s: not s["online"])
        assert status["error"] == "unreachable"
        assert manager.handlers is not None
        coordinator, _ = manager.handlers.coordinators[sim.device_id]
        assert (coordinator.period_s, coordinator.attempts) == (PERIOD_S, 1)


async def test_a_sleeping_gen1_ht_is_tracked_by_its_coiot_wake_ups(world: World) -> None:
    sim = SimGen1Device(H_T, "A0B0C0D1E0F1", f"127.0.0.{FIRST_HOST + 15}")
    sim.settings["sleep_mode"] = {"period": PERIOD_S / 60, "unit": "m"}
    await sim.start()
    try:
        coiot = free_udp_port()
        manager = await world.start(coiot_port=coiot, coiot_peer=f"127.0.0.1:{coiot}")
        reply = await world.command("Discover", cidrs=[sim.host], ports=[80], actor="test")
        assert reply["found"][0]["device_id"] == sim.device_id, reply
        await world.command("Adopt", device_id=sim.device_id, name="cellar")
        status = await world.wait_status(sim.device_id, _online)
        assert status["components"]["temperature:0"] == {"tC": 21.5}
        assert sim.settings["coiot"]["peer"] == f"127.0.0.1:{coiot}"  # set by Hearth
        await sim.wait_booted(2)  # in effect after the reboot Hearth asked for
        assert manager.handlers is not None
        coordinator, _ = manager.handlers.coordinators[sim.device_id]
        # Set the peer and reboot; read the period once back (and, on a loaded machine, one
        # try more that found it still booting). Never a retry storm.
        assert coordinator.attempts <= 3

        await sim.doze()
        sim.status["tmp"]["tC"] = 17.5
        sim.status["hum"]["value"] = 61.0
        await sim.wake()
        status = await world.wait_status(
            sim.device_id, lambda s: s["components"]["temperature:0"]["tC"] == 17.5
        )
        assert status["online"] and status["components"]["humidity:0"] == {"rh": 61.0}
        # Awake, it may be contacted again (when the last contact found it still booting,
        # as a full run's loaded machine showed); asleep, never.
        contacts = coordinator.attempts
        assert contacts <= 5
        await sim.doze()
        status = await world.wait_status(sim.device_id, lambda s: not s["online"])
        await world.wait_events(lambda: bool(world.named("DeviceOffline", sim.device_id)))
        assert coordinator.attempts == contacts  # no reconnects while asleep

        await sim.wake()
        await world.wait_status(sim.device_id, _online)
        await world.wait_events(lambda: len(world.named("DeviceOnline", sim.device_id)) >= 2)
        assert coordinator.attempts == contacts
    finally:
        await sim.stop()
