"""The notifier's drift and offline routes fire for real: a simulated device drifts from
Git and goes away, the device manager records it, the notifier process delivers it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from hearth.demo.shelly import Fleet
from hearth.demo.shelly.models import PLUS_1PM
from tests.integration.device_manager.desired import DesiredGit, device_file
from tests.integration.device_manager.harness import World
from tests.support.git import make_remote
from tests.support.receivers import HttpReceiver
from tests.support.services import ServiceProcess, scoped_secrets


async def test_drift_and_offline_reach_a_person(
    world: World,
    tmp_path: Path,
    start_service: Callable[..., ServiceProcess],
    receiver: HttpReceiver,
) -> None:
    await scoped_secrets(world.js, "notifier").put("ops-hook", receiver.url().encode())
    notifier = start_service("notifier", HEARTH_NATS_URL=world.nats_url)
    notifier.wait_for("/readyz", 200)
    routes = [
        {"name": "drift", "events": ["DeviceDrifted"], "urls": ["ops-hook"], "burst_s": 0.1},
        {"name": "gone", "events": ["DeviceOffline"], "urls": ["ops-hook"], "burst_s": 0.1},
    ]
    reply = await world.nc.request(
        "hearth.cmd.notify.ApplyRoutes", json.dumps({"routes": routes}).encode(), timeout=15
    )
    assert json.loads(reply.data)["ok"], reply.data

    git = DesiredGit(world, make_remote(tmp_path / "git"))
    async with Fleet([PLUS_1PM]) as fleet:
        (sim,) = fleet.devices
        await world.start()
        await world.command("Discover", cidrs=["127.0.0.1"], ports=[sim.port], actor="test")
        await git.declare()
        body = "[switch.0]\nauto_off = true\n"
        await git.push({"devices/porch.toml": device_file(sim, body), "groups/house.toml": ""})

        (drift,) = await receiver.wait_for(1)
        assert drift["title"] == f"⚠️ {sim.device_id} drifted from Git"
        assert "`switch.0.auto_off`: Git says `True`, device has `False`" in drift["message"]

        await sim.go_offline()
        _, offline = await receiver.wait_for(2)
        assert offline["title"] == f"⚠️ {sim.device_id} is offline"
