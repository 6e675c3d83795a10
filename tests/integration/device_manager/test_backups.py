"""Backup, restore (to the same device and to a replacement) and import, against simulated
devices driven through aioshelly, with real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hearth.demo.shelly import Fleet, SimDevice
from hearth.demo.shelly.models import PLUS_1PM, PLUS_PLUG_S
from hearth_device_manager.bootstrap import DeviceManager
from hearth_device_manager.domain.backup import Backup, rebind, spec_for, without_volatile
from hearth_device_manager.domain.desired import from_device, load_repository
from tests.integration.device_manager.harness import World


async def adopt(world: World, *devices: SimDevice) -> None:
    reply = await world.command(
        "Discover", cidrs=["127.0.0.1"], ports=[d.port for d in devices], actor="test"
    )
    assert reply["ok"], reply
    for sim in devices:
        adopted = await world.command("Adopt", device_id=sim.device_id, name=sim.device_id[-4:])
        assert adopted["ok"], adopted
        await world.wait_status(sim.device_id, lambda s: s["online"])


def configure(sim: SimDevice, name: str, switch_name: str, auto_off: bool) -> None:
    """As a person in the device's own web UI would."""
    sim.change_behind_back("sys", {"device": {"name": name}})
    sim.change_behind_back(
        "switch:0", {"name": switch_name, "auto_off": auto_off, "auto_off_delay": 30.0}
    )


async def stored(manager: DeviceManager, backup_id: str) -> Backup:
    assert manager.app is not None
    backup: Backup = await asyncio.to_thread(
        manager.app.repository.get, Backup.create_id(backup_id)
    )
    return backup


async def test_backup_then_restore_gives_the_same_config(world: World) -> None:
    async with Fleet([PLUS_1PM]) as fleet:
        manager = await world.start()
        (sim,) = fleet.devices
        await adopt(world, sim)
        configure(sim, "Kitchen", "Kettle", True)
        sim.change_behind_back("mqtt", {"pass": "hunter2-mqtt"})  # a device that reveals one
        before = without_volatile(sim.config)

        reply = await world.command("Backup", device_id=sim.device_id, actor="test")
        assert reply["ok"], reply
        backup_id = reply["backup_id"]
        assert reply["firmware"] == sim.ver
        await world.wait_events(lambda: bool(world.named("DeviceBackupTaken", sim.device_id)))
        backup = await stored(manager, backup_id)
        assert "hunter2-mqtt" not in json.dumps(backup.config)
        assert backup.info["mac"] == sim.mac

        configure(sim, "Hall", "Lamp", False)
        sim.change_behind_back("cloud", {"enable": False})  # Cloud.SetConfig needs a restart
        restored = await world.command(
            "Restore", device_id=sim.device_id, backup_id=backup_id, actor="test"
        )
        assert restored["ok"], restored
        assert set(restored["fields"]) == {
            "system.name",
            "switch.0.name",
            "switch.0.auto_off",
            "cloud.enable",
        }
        assert sim.boots == 2  # rebooted because the device said restart_required
        after = without_volatile(sim.config)
        after["mqtt"].pop("pass")
        before["mqtt"].pop("pass")
        assert after == before
        await world.wait_events(lambda: bool(world.named("DeviceConfigRestored", sim.device_id)))
        reasons = [e.data.reason for e in world.named("DeviceBackupTaken", sim.device_id)]  # type: ignore[attr-defined]
        assert reasons == ["manual", "before_restore"]
        event = world.named("DeviceConfigRestored", sim.device_id)[0]
        assert event.data.from_device_id == sim.device_id  # type: ignore[attr-defined]


async def test_a_backup_restores_to_a_replacement_of_the_same_model(world: World) -> None:
    async with Fleet([PLUS_1PM, PLUS_1PM, PLUS_PLUG_S]) as fleet:
        await world.start()
        old, new, plug = fleet.devices
        await adopt(world, old, new, plug)
        configure(old, "Kitchen", "Kettle", True)
        reply = await world.command("Backup", device_id=old.device_id)
        assert reply["ok"], reply

        restored = await world.command(
            "Restore", device_id=new.device_id, backup_id=reply["backup_id"]
        )
        assert restored["ok"], restored
        spec = spec_for(new.model.model, new.config)
        assert spec is not None
        wanted = rebind(old.config, (old.device_id, old.mac), (new.device_id, new.mac))
        assert from_device(new.config, spec) == from_device(wanted, spec)
        assert new.config["switch:0"]["name"] == "Kettle"
        assert new.mac in new.config["wifi"]["ap"]["ssid"]  # its own, not the old one's
        assert new.config["mqtt"]["client_id"] == new.device_id
        await world.wait_events(lambda: bool(world.named("DeviceConfigRestored", new.device_id)))
        event = world.named("DeviceConfigRestored", new.device_id)
        assert event[0].data.from_device_id == old.device_id  # type: ignore[attr-defined]

        refused = await world.command(
            "Restore", device_id=plug.device_id, backup_id=reply["backup_id"]
        )
        assert not refused["ok"]
        assert refused["error"] == (
            f"backup {reply['backup_id']} is of a SNSW-001P16EU; {plug.device_id} is a SNPL-00112EU"
        )
        missing = await world.command("Restore", device_id=new.device_id, backup_id="nope")
        assert missing == {"ok": False, "error": "'nope' is not a backup id"}


async def test_import_gives_toml_that_loads_back_to_the_same_config(world: World) -> None:
    async with Fleet([PLUS_1PM]) as fleet:
        await world.start()
        (sim,) = fleet.devices
        await adopt(world, sim)
        configure(sim, "Kitchen", "Kettle", True)

        reply: dict[str, Any] = await world.command("Import", device_id=sim.device_id)
        assert reply["ok"], reply
        name = sim.device_id[-4:]
        assert reply["path"] == f"devices/{name}.toml"
        loaded = load_repository({reply["path"]: reply["toml"].encode()})
        assert not loaded.errors, loaded.errors
        spec = spec_for(sim.model.model, sim.config)
        assert spec is not None
        assert loaded.devices[name].config == from_device(sim.config, spec)
        assert "Kettle" in reply["toml"]
        await world.wait_events(lambda: bool(world.named("DeviceConfigImported", sim.device_id)))

        offline = await world.command("Import", device_id="shellyplus1pm-000000000000")
        assert offline == {
            "ok": False,
            "error": "no adopted device shellyplus1pm-000000000000; discover and adopt it first",
        }
