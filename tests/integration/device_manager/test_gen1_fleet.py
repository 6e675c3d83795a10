"""Gen1 devices in the fleet's work: drift from Git and apply by policy through the Gen1
setters, firmware offers from ``/status.update`` and a rollout updating one by ``/ota``
(simulated Gen1 devices on 127.0.0.N:80 driven by aioshelly's BlockDevice)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearth.demo.shelly.gen1 import SimGen1Device
from hearth.demo.shelly.gen1_models import FW
from tests.integration.device_manager.desired import DesiredGit
from tests.integration.device_manager.gen1_support import free_udp_port, gen1_device
from tests.integration.device_manager.harness import World
from tests.support.git import make_remote

NEW = "20240101-000000/v1.14.1-g1"


async def start(world: World, sim: SimGen1Device) -> None:
    port = free_udp_port()
    await world.start(coiot_port=port, coiot_peer=f"127.0.0.1:{port}", gen1_poll_s=0.2)
    reply = await world.command("Discover", cidrs=[sim.host], ports=[80], actor="test")
    assert reply["ok"], reply


def relay(sim: SimGen1Device) -> dict[str, Any]:
    found: dict[str, Any] = sim.settings["relays"][0]
    return found


async def test_a_gen1_device_drifted_from_git_is_applied_by_policy_and_read_back(
    world: World, tmp_path: Path
) -> None:
    async with gen1_device("SHSW-1", 20) as sim:
        await start(world, sim)
        git = DesiredGit(world, make_remote(tmp_path / "git"))
        body = '[switch.0]\nname = "Porch light"\nauto_off_delay = 30.0\n'
        git.commit_only(
            {
                "devices/porch.toml": f'mac = "{sim.mac}"\nmodel = "SHSW-1"\n'
                f'groups = ["house"]\n\n{body}',
                "groups/house.toml": 'policy = "apply"\n',
            }
        )
        declared = await git.declare()
        assert declared["device_config"]["errors"] == [], declared

        await world.wait_events(lambda: bool(world.named("DriftResolved", sim.device_id)))
        (drifted,) = [e.data for e in world.named("DeviceDrifted", sim.device_id)]
        assert [(d.path, d.desired, d.actual, d.source) for d in drifted.differences] == [  # type: ignore[attr-defined]
            ("switch.0.name", "Porch light", None, "devices/porch.toml"),
            ("switch.0.auto_off_delay", 30.0, 0.0, "devices/porch.toml"),
        ]
        (applied,) = [e.data for e in world.named("DeviceConfigApplied", sim.device_id)]
        assert set(applied.fields) == {"switch.0.name", "switch.0.auto_off_delay"}  # type: ignore[attr-defined]
        assert (relay(sim)["name"], relay(sim)["auto_off"]) == ("Porch light", 30.0)

        # A person changes the timer in the device's own web UI: Hearth puts it back.
        sim.apply("settings/relay/0", {"auto_off": "5"})
        await world.wait_events(lambda: len(world.named("DriftResolved", sim.device_id)) == 2)
        assert relay(sim)["auto_off"] == 30.0
        assert len(world.named("DeviceConfigApplied", sim.device_id)) == 2


async def test_a_gen1_firmware_offer_is_announced_and_a_rollout_updates_the_device(
    world: World,
) -> None:
    async with gen1_device("SHPLG-S", 21) as sim:
        await start(world, sim)
        adopted = await world.command("Adopt", device_id=sim.device_id, name="plug")
        assert adopted["ok"], adopted
        await world.wait_status(sim.device_id, lambda s: s["online"])
        sim.offer_update(stable=NEW)

        await world.wait_events(lambda: bool(world.named("FirmwareUpdateAvailable", sim.device_id)))
        (offer,) = [e.data for e in world.named("FirmwareUpdateAvailable", sim.device_id)]
        assert (offer.current, offer.available, offer.channel) == (FW, NEW, "stable")  # type: ignore[attr-defined]

        reply = await world.command(
            "FirmwareRollout", device_ids=[sim.device_id], channel="stable", canaries_per_model=0
        )
        assert reply["ok"], reply
        ended = ("FirmwareRolloutCompleted", "FirmwareRolloutHalted")
        await world.wait_events(lambda: any(world.named(name) for name in ended))
        assert [e.data.reason for e in world.named("FirmwareRolloutHalted")] == []  # type: ignore[attr-defined]
        (updated,) = [e.data for e in world.named("FirmwareUpdated", sim.device_id)]
        assert updated.version == NEW  # type: ignore[attr-defined]
        assert sim.fw == NEW and sim.ota_requests == [{"update": "true"}]
        assert (await world.command("RolloutStatus", rollout_id=reply["rollout_id"]))[
            "updated"
        ] == [sim.device_id]


async def test_a_gen1_update_that_fails_halts_the_rollout_at_once_with_the_devices_state(
    world: World,
) -> None:
    """A Gen1 device sends no ota_error: an update that ended on the old firmware was only
    noticed when the rollout's wait for the device ran out (ten minutes by default)."""
    async with gen1_device("SHPLG-S", 22) as sim:
        port = free_udp_port()
        await world.start(
            coiot_port=port,
            coiot_peer=f"127.0.0.1:{port}",
            gen1_poll_s=0.2,
            firmware_verify_s=120,  # what a timeout would say; the failure must come first
        )
        reply = await world.command("Discover", cidrs=[sim.host], ports=[80], actor="test")
        assert reply["ok"], reply
        assert (await world.command("Adopt", device_id=sim.device_id, name="plug"))["ok"]
        await world.wait_status(sim.device_id, lambda s: s["online"])
        sim.offer_update(stable=NEW)
        sim.ota_fails = True
        await world.wait_events(lambda: bool(world.named("FirmwareUpdateAvailable", sim.device_id)))

        reply = await world.command(
            "FirmwareRollout", device_ids=[sim.device_id], channel="stable", canaries_per_model=0
        )
        assert reply["ok"], reply
        await world.wait_events(lambda: bool(world.named("FirmwareRolloutHalted")))
        (failed,) = [e.data for e in world.named("FirmwareUpdateFailed", sim.device_id)]
        reason = failed.reason  # type: ignore[attr-defined]
        assert (
            reason == f"{sim.device_id}: the update to {NEW} ended and the device still runs {FW}"
        )
        assert "did not come back" not in reason
        assert sim.fw == FW and sim.ota_requests == [{"update": "true"}]
        assert not world.named("FirmwareUpdated", sim.device_id)
