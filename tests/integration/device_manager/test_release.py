"""Releasing devices: a device hearth.yaml or Git stops naming, or an admin lets go of, is
no longer managed (``DeviceReleased``), its connection is closed and its live status gone;
nothing is changed on the device, and it can be adopted again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from hearth.demo.shelly import Fleet, SimDevice
from hearth.demo.shelly.models import PLUS_1PM
from tests.integration.device_manager.desired import DesiredGit, device_file
from tests.integration.device_manager.harness import WAIT_S, World
from tests.support.git import make_remote

DRIFTING = "[switch.0]\nauto_off = true\n"


@pytest.fixture
async def sims() -> AsyncIterator[list[SimDevice]]:
    async with Fleet([PLUS_1PM, PLUS_1PM]) as fleet:
        yield fleet.devices


async def until(condition: Callable[[], bool]) -> None:
    """Poll what nothing announces (the simulator's open connections)."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.02)


async def start(world: World, *sims: SimDevice) -> None:
    await world.start()
    ports = [s.port for s in sims]
    reply = await world.command("Discover", cidrs=["127.0.0.1"], ports=ports, actor="test")
    assert reply["ok"], reply


async def declare(world: World, *named: tuple[str, SimDevice], dry_run: bool = False) -> Any:
    reply = await world.command(
        "ApplyDevices",
        devices=[{"name": name, "mac": sim.mac} for name, sim in named],
        actor="hearth apply",
        dry_run=dry_run,
    )
    assert reply["ok"], reply
    return reply


async def live_status(world: World, device_id: str) -> dict[str, Any] | None:
    try:
        entry = await world.kv.get(device_id)
    except NotFoundError:  # never written, or deleted
        return None
    found: dict[str, Any] = json.loads(entry.value)
    return found


async def wait_released(world: World, sim: SimDevice, count: int = 1) -> Any:
    await world.wait_events(lambda: len(world.named("DeviceReleased", sim.device_id)) >= count)
    await until(lambda: not sim.peers)  # the device manager hung up
    async with asyncio.timeout(WAIT_S):
        while await live_status(world, sim.device_id) is not None:
            await asyncio.sleep(0.02)
    return world.named("DeviceReleased", sim.device_id)[-1].data


async def test_a_device_taken_out_of_hearth_yaml_is_released_and_can_come_back(
    world: World, sims: list[SimDevice]
) -> None:
    porch, shed = sims
    await start(world, porch, shed)
    await declare(world, ("porch", porch), ("shed", shed))
    for sim in sims:
        await world.wait_status(sim.device_id, lambda s: s["online"])

    preview = await declare(world, ("shed", shed), dry_run=True)
    assert preview["changes"] == [{"type": "DeviceReleased", "name": "porch"}]
    assert porch.peers and not world.named("DeviceReleased")  # a dry run changes nothing

    reply = await declare(world, ("shed", shed))
    assert reply["changes"] == [{"type": "DeviceReleased", "name": "porch"}]
    released = await wait_released(world, porch)
    assert (released.name, released.reason) == ("porch", "declaration")
    assert "porch" in released.detail
    assert shed.peers and (await live_status(world, shed.device_id) or {}).get("online")
    assert not world.named("DeviceReleased", shed.device_id)

    # Nothing was done to the device, and nothing more is heard of it.
    porch.set_status("switch:0", {"output": True})
    assert await live_status(world, porch.device_id) is None

    # Declared again: adopted again, under its name, and followed again.
    reply = await declare(world, ("porch", porch), ("shed", shed))
    assert reply["changes"] == [{"type": "DeviceAdopted", "name": "porch"}]
    status = await world.wait_status(porch.device_id, lambda s: s["online"])
    assert status["components"]["switch:0"]["output"] is True
    # The status is written at once, the events reach the stream through the relay.
    await world.wait_events(lambda: len(world.named("DeviceAdopted", porch.device_id)) == 2)
    await world.wait_events(lambda: len(world.named("DeviceOnline", porch.device_id)) == 2)


async def test_an_admin_releases_an_adopted_device_but_not_a_declared_one(
    world: World, sims: list[SimDevice]
) -> None:
    kitchen, porch = sims
    await start(world, kitchen, porch)
    adopted = await world.command("Adopt", device_id=kitchen.device_id, name="kitchen")
    assert adopted["ok"], adopted
    await declare(world, ("porch", porch))
    for sim in sims:
        await world.wait_status(sim.device_id, lambda s: s["online"])

    refused = await world.command("Release", device_id=porch.device_id, actor="token:admin")
    assert not refused["ok"]
    assert "declared in hearth.yaml (devices: porch)" in refused["error"]
    missing = await world.command("Release", device_id="shellyplus1pm-000000000000")
    assert not missing["ok"] and "no adopted device" in missing["error"]

    reply = await world.command("Release", device_id=kitchen.device_id, actor="token:admin")
    assert reply["ok"], reply
    assert reply["device"]["adopted"] is False
    released = await wait_released(world, kitchen)
    assert (released.name, released.reason) == ("kitchen", "operator")
    (event,) = world.named("DeviceReleased", kitchen.device_id)
    assert event.actor == "token:admin"
    again = await world.command("Release", device_id=kitchen.device_id)
    assert not again["ok"] and "nothing to release" in again["error"]

    # A restart does not bring it back.
    await world.managers[0].stop()
    world.managers.clear()
    await world.start()
    await world.wait_status(porch.device_id, lambda s: s["online"])
    assert not kitchen.peers
    assert await live_status(world, kitchen.device_id) is None


async def test_a_device_file_removed_from_git_releases_the_device_and_its_drift(
    world: World, sims: list[SimDevice], tmp_path: Path
) -> None:
    porch, shed = sims
    git = DesiredGit(world, make_remote(tmp_path / "git"))
    await start(world, porch, shed)
    git.commit_only(
        {
            "devices/porch.toml": device_file(porch, DRIFTING),
            "devices/shed.toml": device_file(shed, DRIFTING),
            "groups/house.toml": 'policy = "alert"\n',
        }
    )
    await git.declare(devices=[{"name": "shed", "mac": shed.mac}])
    await world.wait_events(
        lambda: all(world.named("DeviceDrifted", sim.device_id) for sim in sims)
    )

    await git.push({"devices/porch.toml": None, "devices/shed.toml": None})
    released = await wait_released(world, porch)
    assert (released.name, released.reason) == ("porch", "repository")
    assert git.remote.head()[:12] in released.detail
    # hearth.yaml still declares the shed: it stays managed, without a desired config.
    await world.wait_events(lambda: bool(world.named("DesiredConfigRemoved", shed.device_id)))
    assert not world.named("DeviceReleased", shed.device_id)
    assert shed.peers
    assert porch.config["switch:0"]["auto_off"] is False  # the device itself is untouched

    # Named by Git again: adopted again, and its drift reported afresh.
    await git.push({"devices/porch.toml": device_file(porch, DRIFTING)})
    await world.wait_events(lambda: len(world.named("DeviceAdopted", porch.device_id)) == 2)
    await world.wait_events(lambda: len(world.named("DeviceDrifted", porch.device_id)) == 2)
