"""Staged firmware rollouts against simulated devices updating over the air (aioshelly,
real NATS and PostgreSQL): a failing update halts the rollout, a restart resumes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hearth.demo.shelly import Fleet, SimDevice
from hearth.demo.shelly.models import PLUS_1PM
from hearth_events import Envelope
from tests.integration.device_manager.desired import DesiredGit, device_file
from tests.integration.device_manager.harness import World
from tests.integration.device_manager.test_backups import adopt
from tests.support.git import make_remote

NEW = "1.5.0"


def unique(events: list[Envelope]) -> list[Envelope]:
    """Events are delivered at least once: a restarted relay may publish some again (with
    the same event id, which JetStream deduplicates but a plain subscriber sees twice)."""
    seen: dict[object, Envelope] = {}
    for event in events:
        seen.setdefault(event.event_id, event)
    return list(seen.values())


def offering(devices: list[SimDevice]) -> None:
    for sim in devices:
        sim.offer_update(stable=NEW, beta="1.6.0-beta1")


async def test_a_failing_update_halts_the_rollout_and_leaves_the_rest_untouched(
    world: World,
) -> None:
    async with Fleet([PLUS_1PM] * 3) as fleet:
        await world.start()
        first, failing, last = fleet.devices
        offering(fleet.devices)
        failing.ota_fails = True
        await adopt(world, *fleet.devices)
        await world.wait_events(lambda: len(world.named("FirmwareUpdateAvailable")) == 6)

        reply = await world.command(
            "FirmwareRollout",
            device_ids=[d.device_id for d in fleet.devices],
            channel="stable",
            wave_size=1,
            actor="test",
        )
        assert reply["ok"], reply
        assert reply["waves"] == [[first.device_id], [failing.device_id], [last.device_id]]
        await world.wait_events(lambda: bool(world.named("FirmwareRolloutHalted")))

        assert first.ver == NEW
        assert failing.ver == PLUS_1PM.ver
        assert last.ver == PLUS_1PM.ver
        assert [e.key for e in world.named("FirmwareUpdated")] == [first.device_id]
        (failed,) = world.named("FirmwareUpdateFailed")
        assert failed.key == failing.device_id
        assert failed.data.reason == f"{failing.device_id}: Update failed: bad image"  # type: ignore[attr-defined]
        assert failed.data.to_version == NEW  # type: ignore[attr-defined]
        (halted,) = world.named("FirmwareRolloutHalted")
        assert halted.data.wave == 1  # type: ignore[attr-defined]
        assert halted.data.updated == (first.device_id,)  # type: ignore[attr-defined]
        assert not world.named("FirmwareUpdateStarted", last.device_id)
        assert [e.data.device_ids for e in world.named("FirmwareRolloutWaveStarted")] == [  # type: ignore[attr-defined]
            (first.device_id,),
            (failing.device_id,),
        ]
        backups = [e.key for e in world.named("DeviceBackupTaken")]
        assert backups == [first.device_id, failing.device_id]

        status = await world.command("RolloutStatus", rollout_id=reply["rollout_id"])
        assert status["state"] == "halted"
        assert status["progress"][first.device_id] == 75

        again = await world.command("FirmwareRollout", device_ids=[last.device_id])
        assert again["ok"], again  # the halted one no longer blocks the next


async def test_a_rollout_resumes_after_a_restart_of_the_device_manager(world: World) -> None:
    async with Fleet([PLUS_1PM] * 2) as fleet:
        manager = await world.start()
        first, second = fleet.devices
        offering(fleet.devices)
        await adopt(world, *fleet.devices)
        reached = asyncio.Event()

        async def crash_before_second(device_id: str) -> None:  # the fault-injection point
            if device_id == second.device_id:
                reached.set()
                await asyncio.Event().wait()

        assert manager.rollouts is not None
        manager.rollouts.before_device = crash_before_second
        reply = await world.command(
            "FirmwareRollout",
            device_ids=[first.device_id, second.device_id],
            channel="beta",
            wave_size=1,
        )
        assert reply["ok"], reply
        async with asyncio.timeout(20):
            await reached.wait()
        assert first.ver == "1.6.0-beta1"
        assert second.ver == PLUS_1PM.ver
        world.managers.remove(manager)
        await manager.stop()

        await world.start()
        await world.wait_events(lambda: bool(world.named("FirmwareRolloutCompleted")))
        assert second.ver == "1.6.0-beta1"
        updated = [e.key for e in unique(world.named("FirmwareUpdated"))]
        assert updated == [first.device_id, second.device_id]
        assert len(unique(world.named("FirmwareRolloutWaveStarted"))) == 2
        assert len(unique(world.named("FirmwareRolloutStarted"))) == 1
        (done,) = unique(world.named("FirmwareRolloutCompleted"))
        assert done.data.updated == (first.device_id, second.device_id)  # type: ignore[attr-defined]
        # offers were announced once per device and channel, not again by the new manager
        assert len(unique(world.named("FirmwareUpdateAvailable"))) == 4


async def test_an_update_that_changes_the_config_fails_the_device(world: World) -> None:
    async with Fleet([PLUS_1PM]) as fleet:
        await world.start()
        (sim,) = fleet.devices
        offering([sim])
        await adopt(world, sim)
        update = sim.start_update

        def meddle(stage: str, url: str | None) -> None:  # as if the new firmware reset a field
            sim.change_behind_back("switch:0", {"name": "reset"})
            update(stage, url)

        sim.start_update = meddle  # type: ignore[method-assign]
        reply = await world.command("FirmwareRollout", device_ids=[sim.device_id])
        assert reply["ok"], reply
        await world.wait_events(lambda: bool(world.named("FirmwareRolloutHalted")))
        (failed,) = world.named("FirmwareUpdateFailed")
        assert failed.data.reason == (  # type: ignore[attr-defined]
            f"{sim.device_id}: the update changed its config (switch:0.name)"
        )
        assert sim.ver == NEW


async def test_a_group_rollout_takes_the_group_of_hearth_yaml(world: World) -> None:
    async with Fleet([PLUS_1PM] * 3) as fleet:
        manager = await world.start()
        offering(fleet.devices)
        applied = await world.command(
            "ApplyDevices",
            devices=[
                {"name": f"d{i}", "mac": sim.mac, "host": f"127.0.0.1:{sim.port}", "groups": group}
                for i, (sim, group) in enumerate(
                    zip(
                        fleet.devices, (["outside"], ["inside"], ["inside", "outside"]), strict=True
                    )
                )
            ],
        )
        assert applied["ok"], applied
        for sim in fleet.devices:
            await world.wait_status(sim.device_id, lambda s: s["online"])
        outside = [fleet.devices[0].device_id, fleet.devices[2].device_id]

        async def group_channel(device_id: str) -> str | None:  # as the group files would say
            return "beta" if device_id == outside[1] else None

        assert manager.rollouts is not None
        manager.rollouts.channels = group_channel
        reply = await world.command("FirmwareRollout", group="outside", canaries_per_model=0)
        assert reply["ok"], reply
        assert reply["waves"] == [outside]
        assert reply["channels"] == {outside[1]: "beta"}
        await world.wait_events(lambda: bool(world.named("FirmwareRolloutCompleted")))
        assert [e.key for e in world.named("FirmwareUpdated")] == outside
        assert [e.data.version for e in world.named("FirmwareUpdated")] == [NEW, "1.6.0-beta1"]  # type: ignore[attr-defined]
        assert fleet.devices[1].ver == PLUS_1PM.ver

        nobody = await world.command("FirmwareRollout", group="attic")
        assert nobody == {
            "ok": False,
            "error": "no adopted device is in group attic (hearth.yaml devices: groups)",
        }
        both = await world.command("FirmwareRollout", group="outside", device_ids=outside)
        assert both["ok"] is False
        assert "give device_ids or group (one of them)" in both["error"]


async def test_a_restart_during_an_update_checks_the_device_instead_of_updating_it_again(
    world: World,
) -> None:
    async with Fleet([PLUS_1PM]) as fleet:
        manager = await world.start()
        (sim,) = fleet.devices
        offering([sim])
        await adopt(world, sim)
        updates: list[str] = []
        updating = asyncio.Event()
        update = sim.start_update

        def counted(stage: str, url: str | None) -> None:
            updates.append(stage)
            updating.set()
            update(stage, url)

        sim.start_update = counted  # type: ignore[method-assign]
        reply = await world.command("FirmwareRollout", device_ids=[sim.device_id])
        assert reply["ok"], reply
        async with asyncio.timeout(20):
            await updating.wait()
        world.managers.remove(manager)
        await manager.stop()  # the device manager goes away while the device updates
        async with asyncio.timeout(20):
            await sim.wait_booted(2)  # the device has updated and rebooted meanwhile

        await world.start()
        await world.wait_events(lambda: bool(world.named("FirmwareRolloutCompleted")))
        assert updates == ["stable"]
        assert len(unique(world.named("FirmwareUpdateStarted"))) == 1
        assert [e.key for e in unique(world.named("FirmwareUpdated"))] == [sim.device_id]
        assert sim.ver == NEW


async def test_a_rollout_without_a_channel_takes_each_devices_group_channel_from_git(
    world: World, tmp_path: Path
) -> None:
    async with Fleet([PLUS_1PM] * 2) as fleet:
        await world.start()
        ring, rest = fleet.devices
        offering(fleet.devices)
        ports = [sim.port for sim in fleet.devices]
        found = await world.command("Discover", cidrs=["127.0.0.1"], ports=ports, actor="test")
        assert found["ok"], found
        git = DesiredGit(world, make_remote(tmp_path / "git"))
        git.commit_only(
            {
                "devices/ring.toml": device_file(ring, "", groups=("early",)),
                "devices/rest.toml": device_file(rest, "", groups=("house",)),
                "groups/early.toml": 'channel = "beta"\n',
                "groups/house.toml": 'policy = "alert"\n',
            }
        )
        declared = await git.declare()
        assert declared["device_config"]["errors"] == [], declared
        await world.wait_events(lambda: len(world.named("DeviceAdopted")) == 2)
        for sim in fleet.devices:
            await world.wait_status(sim.device_id, lambda s: s["online"])

        reply = await world.command(
            "FirmwareRollout", device_ids=[ring.device_id, rest.device_id], canaries_per_model=0
        )
        assert reply["ok"], reply
        assert reply["channels"] == {ring.device_id: "beta"}
        await world.wait_events(lambda: bool(world.named("FirmwareRolloutCompleted")))
        assert (ring.ver, rest.ver) == ("1.6.0-beta1", NEW)
