"""Desired config from Git, drift and apply, on real parts: Git, NATS, PostgreSQL and
simulated Shelly devices driven through aioshelly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hearth.demo.shelly import Fleet, SimDevice
from hearth.demo.shelly.auth import make_ha1
from hearth.demo.shelly.models import PLUS_1PM
from tests.integration.device_manager.desired import DesiredGit, device_file
from tests.integration.device_manager.harness import WAIT_S, World
from tests.support.git import make_remote

AUTO_OFF = "[switch.0]\nauto_off = true\nauto_off_delay = 30.0\n"


def group(policy: str) -> str:
    return f'policy = "{policy}"\n'


@pytest.fixture
async def git(world: World, tmp_path: Path) -> DesiredGit:
    return DesiredGit(world, make_remote(tmp_path / "git"))


@pytest.fixture
async def sim() -> AsyncIterator[SimDevice]:
    async with Fleet([PLUS_1PM]) as fleet:
        yield fleet.devices[0]


async def until(condition: Callable[[], bool]) -> None:
    """Poll a condition nothing announces (the simulator's own state)."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.02)


async def start(world: World, sim: SimDevice, **options: Any) -> None:
    await world.start(**options)
    reply = await world.command("Discover", cidrs=["127.0.0.1"], ports=[sim.port], actor="test")
    assert reply["ok"], reply


def data(world: World, event_type: str, device_id: str) -> list[Any]:
    return [e.data for e in world.named(event_type, device_id)]


async def wait_for(world: World, event_type: str, device_id: str, count: int = 1) -> list[Any]:
    await world.wait_events(lambda: len(world.named(event_type, device_id)) >= count)
    return data(world, event_type, device_id)


async def test_a_push_adopts_the_device_it_names_and_reports_its_drift(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    await start(world, sim)
    house = group("alert") + "\n[switch.0]\nauto_off_delay = 30.0\n"
    git.commit_only(
        {
            "devices/porch.toml": device_file(sim, "[switch.0]\nauto_off = true\n"),
            "groups/house.toml": house,
        }
    )
    reply = await git.declare()
    assert reply["device_config"]["errors"] == [], reply
    assert {"type": "DeviceConfigSource", "name": "home/config"} in reply["changes"]

    (adopted,) = await wait_for(world, "DeviceAdopted", sim.device_id)
    assert adopted.name == "porch"
    (desired,) = await wait_for(world, "DesiredConfigChanged", sim.device_id)
    assert desired.config == {"switch": {"0": {"auto_off": True, "auto_off_delay": 30.0}}}
    assert desired.repo == "home/config" and desired.commit == git.remote.head()
    assert desired.groups == ("house",)
    assert desired.sources["switch.0.auto_off_delay"] == "groups/house.toml"
    (drifted,) = await wait_for(world, "DeviceDrifted", sim.device_id)
    # Where each desired value comes from: the group file, or the device's own.
    assert [(d.path, d.desired, d.actual, d.source) for d in drifted.differences] == [
        ("switch.0.auto_off", True, False, "devices/porch.toml"),
        ("switch.0.auto_off_delay", 30.0, 60.0, "groups/house.toml"),
    ]
    assert sim.config["switch:0"]["auto_off"] is False  # alert: reported, not applied

    # Git changes to what the device has: the drift is resolved by the push.
    same = "[switch.0]\nauto_off = false\nauto_off_delay = 60.0\n"
    await git.push({"devices/porch.toml": device_file(sim, same)})
    (resolved,) = await wait_for(world, "DriftResolved", sim.device_id)
    assert resolved.how == "imported"
    assert len(data(world, "DesiredConfigChanged", sim.device_id)) == 2
    assert len(data(world, "DeviceDrifted", sim.device_id)) == 1
    assert not data(world, "DeviceConfigApplied", sim.device_id)


async def test_apply_policy_converges_the_device_and_again_after_a_change_behind_its_back(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    await start(world, sim)
    await git.declare()
    await git.push(
        {"devices/porch.toml": device_file(sim, AUTO_OFF), "groups/house.toml": group("apply")}
    )

    (applied,) = await wait_for(world, "DeviceConfigApplied", sim.device_id)
    assert applied.fields == ("switch.0.auto_off", "switch.0.auto_off_delay")
    assert applied.commit == git.remote.head()
    assert sim.config["switch:0"]["auto_off"] is True
    assert sim.config["switch:0"]["auto_off_delay"] == 30.0
    (resolved,) = await wait_for(world, "DriftResolved", sim.device_id)
    assert resolved.how == "applied"

    sim.change_behind_back("switch:0", {"auto_off": False})  # someone in the web UI
    drifted = await wait_for(world, "DeviceDrifted", sim.device_id, 2)
    assert [(d.path, d.actual) for d in drifted[-1].differences] == [("switch.0.auto_off", False)]
    applied_again = await wait_for(world, "DeviceConfigApplied", sim.device_id, 2)
    assert applied_again[-1].fields == ("switch.0.auto_off",)
    assert sim.config["switch:0"]["auto_off"] is True
    assert not data(world, "DeviceConfigApplyFailed", sim.device_id)


async def drift_behind_its_back(world: World, git: DesiredGit, sim: SimDevice) -> Any:
    """A device in sync with Git (policy alert), then switched behind Hearth's back."""
    await start(world, sim)
    await git.declare()
    in_sync = "[switch.0]\nauto_off = false\n"
    await git.push(
        {"devices/porch.toml": device_file(sim, in_sync), "groups/house.toml": group("alert")}
    )
    await wait_for(world, "DesiredConfigChanged", sim.device_id)
    await world.wait_status(sim.device_id, lambda s: s["online"])
    sim.change_behind_back("switch:0", {"auto_off": True})
    (drifted,) = await wait_for(world, "DeviceDrifted", sim.device_id)
    return drifted


async def test_alert_reports_a_change_behind_its_back_and_its_undoing(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    drifted = await drift_behind_its_back(world, git, sim)
    assert [(d.path, d.desired, d.actual) for d in drifted.differences] == [
        ("switch.0.auto_off", False, True)
    ]
    sim.change_behind_back("switch:0", {"auto_off": False})
    (resolved,) = await wait_for(world, "DriftResolved", sim.device_id)
    assert resolved.how == "changed_back"
    assert not data(world, "DeviceConfigApplied", sim.device_id)


async def test_a_sync_that_changes_nothing_does_not_call_a_device_changing_back_imported(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    """Git did not move, the device did: the drift was changed back, whatever started the
    comparison (here a sync of the repository, as a redelivered push or a restart does)."""
    await drift_behind_its_back(world, git, sim)
    sim.config["switch:0"]["auto_off"] = False  # back, and no notification said so
    reply = await world.command("SyncConfig", actor="test")
    assert reply["ok"] and reply["errors"] == [], reply
    (resolved,) = await wait_for(world, "DriftResolved", sim.device_id)
    assert resolved.how == "changed_back"


async def test_off_ignores_the_device_until_the_operator_applies(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    await start(world, sim)
    await git.declare()
    await git.push(
        {"devices/porch.toml": device_file(sim, AUTO_OFF), "groups/house.toml": group("off")}
    )
    await wait_for(world, "DesiredConfigChanged", sim.device_id)
    await world.wait_status(sim.device_id, lambda s: s["online"])
    sim.change_behind_back("sys", {"device": {"name": "poke"}})  # a cfg_rev change: still off
    reply = await world.command("SyncConfig")
    assert reply["ok"] and reply["devices"] == ["porch"], reply
    assert not data(world, "DeviceDrifted", sim.device_id)

    reply = await world.command("Apply", device_id=sim.device_id, actor="alice")
    assert reply["ok"], reply
    assert reply["devices"] == [
        {
            "device_id": sim.device_id,
            "result": "applied",
            "fields": ["switch.0.auto_off", "switch.0.auto_off_delay"],
        }
    ]
    assert sim.config["switch:0"]["auto_off"] is True
    (applied,) = await wait_for(world, "DeviceConfigApplied", sim.device_id)
    assert applied.fields == ("switch.0.auto_off", "switch.0.auto_off_delay")
    refused = await world.command("Apply", device_ids=["shellyplus1pm-000000000000"])
    assert not refused["ok"] and "not adopted" in refused["error"], refused


async def test_a_device_that_reboots_mid_apply_is_retried_and_verified(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    await start(world, sim)
    await git.declare()
    await git.push({"groups/house.toml": group("alert")})
    await world.command("Adopt", device_id=sim.device_id, name="porch")
    await world.wait_status(sim.device_id, lambda s: s["online"])
    sim.reboot_on_next_set = True  # takes the first call, then reboots

    body = '[system]\nname = "Porch"\n\n' + AUTO_OFF
    await git.push(
        {"devices/porch.toml": device_file(sim, body), "groups/house.toml": group("apply")}
    )
    (applied,) = await wait_for(world, "DeviceConfigApplied", sim.device_id)
    assert set(applied.fields) == {"system.name", "switch.0.auto_off", "switch.0.auto_off_delay"}
    assert sim.boots == 2
    assert sim.config["sys"]["device"]["name"] == "Porch"
    assert sim.config["switch:0"]["auto_off"] is True
    assert not data(world, "DeviceConfigApplyFailed", sim.device_id)


async def test_a_device_gone_mid_apply_is_reported_and_converged_when_back(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    await start(world, sim, apply_comeback_s=0.2, apply_attempts=2)
    await git.declare()
    await git.push({"groups/house.toml": group("alert")})
    await world.command("Adopt", device_id=sim.device_id, name="porch")
    await world.wait_status(sim.device_id, lambda s: s["online"])
    sim.reboot_on_next_set = True
    sim.reboot_s = 3.0  # longer than Hearth waits

    body = '[system]\nname = "Porch"\n\n' + AUTO_OFF
    await git.push(
        {"devices/porch.toml": device_file(sim, body), "groups/house.toml": group("apply")}
    )
    (failed,) = await wait_for(world, "DeviceConfigApplyFailed", sim.device_id)
    assert "did not come back" in failed.reason, failed.reason
    assert failed.reason.endswith(
        "not confirmed: system.name, switch.0.auto_off, switch.0.auto_off_delay"
    ), failed.reason
    assert sim.config["sys"]["device"]["name"] == "Porch"  # the half that arrived

    await sim.wait_booted(2)
    (applied,) = await wait_for(world, "DeviceConfigApplied", sim.device_id)
    assert applied.fields == ("switch.0.auto_off", "switch.0.auto_off_delay")
    assert sim.config["switch:0"]["auto_off"] is True


async def test_a_push_with_errors_changes_nothing_and_says_where(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    await start(world, sim)
    await git.declare()
    await git.push(
        {"devices/porch.toml": device_file(sim, AUTO_OFF), "groups/house.toml": group("alert")}
    )
    await wait_for(world, "DeviceDrifted", sim.device_id)

    broken = device_file(sim, "[switch.0]\nauto_of = true\n")
    await git.push({"devices/porch.toml": broken})
    (failed,) = await wait_for(world, "DeviceConfigApplyFailed", sim.device_id)
    assert failed.reason.endswith(
        "refused, nothing changed: devices/porch.toml:6: field 'switch.0.auto_of' — unknown field"
    ), failed.reason
    assert len(data(world, "DesiredConfigChanged", sim.device_id)) == 1
    reply = await world.command("SyncConfig")
    assert reply["errors"] == ["devices/porch.toml:6: field 'switch.0.auto_of' — unknown field"], (
        reply
    )
    assert len(data(world, "DeviceConfigApplyFailed", sim.device_id)) == 1  # once per commit


async def test_the_admin_password_from_git_is_set_and_then_used(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    await start(world, sim)
    await world.secret("porch-admin", "correct horse")
    await git.declare()
    body = 'password_secret = "porch-admin"\n\n' + AUTO_OFF
    await git.push(
        {"devices/porch.toml": device_file(sim, body), "groups/house.toml": group("apply")}
    )
    await wait_for(world, "DeviceConfigApplied", sim.device_id)
    await until(lambda: sim.guard.ha1 is not None)
    assert sim.guard.ha1 == make_ha1(sim.device_id, "correct horse")

    sim.set_status("switch:0", {"output": True})  # seen only over an authenticated link
    status = await world.wait_status(
        sim.device_id, lambda s: s["online"] and s["components"]["switch:0"]["output"]
    )
    assert "error" not in status
    for event in world.events:
        assert "correct horse" not in event.model_dump_json()


async def test_a_scheduled_scan_reads_no_config_whose_cfg_rev_did_not_move(
    world: World, git: DesiredGit
) -> None:
    async with Fleet([PLUS_1PM, PLUS_1PM]) as fleet:
        moved, still = fleet.devices
        manager = await world.start(drift_interval_s=0.05)
        ports = [moved.port, still.port]
        await world.command("Discover", cidrs=["127.0.0.1"], ports=ports, actor="test")
        await git.declare()
        in_sync = "[switch.0]\nauto_off = false\n"
        await git.push(
            {
                "devices/moved.toml": device_file(moved, in_sync),
                "devices/still.toml": device_file(still, in_sync),
                "groups/house.toml": group("alert"),
            }
        )
        for sim in fleet.devices:
            await wait_for(world, "DesiredConfigChanged", sim.device_id)
        convergence = manager.convergence
        assert convergence is not None
        # Each device's config is read once the push made it desired; then all is quiet.
        await until(lambda: all(convergence.compared(d.device_id) for d in fleet.devices))
        await until(lambda: not convergence.busy)
        before = (moved.calls["Shelly.GetConfig"], still.calls["Shelly.GetConfig"])

        moved.change_behind_back("switch:0", {"auto_off": True})
        await wait_for(world, "DeviceDrifted", moved.device_id)
        scans = convergence.scans
        await until(lambda: convergence.scans >= scans + 3)
        assert moved.calls["Shelly.GetConfig"] == before[0] + 1  # once, for the change
        assert still.calls["Shelly.GetConfig"] == before[1]  # scanned by cfg_rev alone
        assert not world.named("DeviceDrifted", still.device_id)


async def test_secrets_are_filled_in_from_the_store_and_a_restart_is_honoured(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    await start(world, sim)
    await git.declare()
    mqtt = '[mqtt]\nenable = true\nserver = "broker.lan:1883"\npassword_secret = "mqtt-pass"\n'
    # Policy alert: only the operator's Apply changes the device, so no comparison in the
    # background (a reconnect, the schedule) can apply it first once the secret is there.
    await git.push(
        {"devices/porch.toml": device_file(sim, mqtt), "groups/house.toml": group("alert")}
    )
    await wait_for(world, "DeviceDrifted", sim.device_id)
    refused = await world.command("Apply", device_id=sim.device_id)
    assert refused["devices"][0]["result"] == "failed", refused
    (failed,) = await wait_for(world, "DeviceConfigApplyFailed", sim.device_id)
    assert failed.reason.startswith("secret mqtt-pass is not stored (scope device-manager)")
    assert sim.config["mqtt"]["enable"] is False  # nothing half-sent

    await world.secret("mqtt-pass", "CANARY-s3cret")
    reply = await world.command("Apply", device_id=sim.device_id)
    assert reply["devices"][0]["result"] == "applied", reply
    assert sim.config["mqtt"]["pass"] == "CANARY-s3cret"
    assert sim.config["mqtt"]["server"] == "broker.lan:1883"
    assert sim.boots == 2  # MQTT.SetConfig says restart_required: rebooted, then verified
    (applied,) = await wait_for(world, "DeviceConfigApplied", sim.device_id)
    assert applied.fields == ("mqtt.enable", "mqtt.server")
    for event in world.events:
        assert "CANARY" not in event.model_dump_json()


async def test_a_device_named_in_git_before_it_is_found_is_adopted_and_compared_then(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    await world.start()
    git.commit_only(
        {"devices/porch.toml": device_file(sim, AUTO_OFF), "groups/house.toml": group("alert")}
    )
    reply = await git.declare()
    assert reply["device_config"]["devices"] == ["porch"], reply
    assert not world.named("DeviceAdopted")

    found = await world.command("Discover", cidrs=["127.0.0.1"], ports=[sim.port], actor="test")
    assert found["found"][0]["name"] == "porch", found
    (desired,) = await wait_for(world, "DesiredConfigChanged", sim.device_id)
    assert desired.commit == git.remote.head()
    (drifted,) = await wait_for(world, "DeviceDrifted", sim.device_id)
    assert [d.path for d in drifted.differences] == ["switch.0.auto_off", "switch.0.auto_off_delay"]


async def test_a_late_redelivered_push_does_not_take_the_desired_config_back(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    await start(world, sim)
    await git.declare()
    first = await git.push(
        {"devices/porch.toml": device_file(sim, AUTO_OFF), "groups/house.toml": group("alert")}
    )
    await wait_for(world, "DesiredConfigChanged", sim.device_id)
    await git.push({"devices/porch.toml": device_file(sim, "[switch.0]\nauto_off = false\n")})
    await wait_for(world, "DesiredConfigChanged", sim.device_id, 2)

    await git.announce_again(first)
    await git.push({"devices/porch.toml": device_file(sim, '[system]\nname = "Porch"\n')})
    changes = await wait_for(world, "DesiredConfigChanged", sim.device_id, 3)
    assert [c.config for c in changes] == [
        {"switch": {"0": {"auto_off": True, "auto_off_delay": 30.0}}},
        {"switch": {"0": {"auto_off": False}}},
        {"system": {"name": "Porch"}},
    ]


async def test_a_declared_device_whose_file_leaves_git_loses_its_desired_config_and_drift(
    world: World, git: DesiredGit, sim: SimDevice
) -> None:
    """Declared in hearth.yaml, the device stays managed; only what Git wanted of it goes,
    its drift with it, until a file names it again."""
    await start(world, sim)
    await git.declare(devices=[{"name": "porch", "mac": sim.mac}])
    await git.push(
        {"devices/porch.toml": device_file(sim, AUTO_OFF), "groups/house.toml": group("alert")}
    )
    (drifted,) = await wait_for(world, "DeviceDrifted", sim.device_id)

    head = await git.push({"devices/porch.toml": None})
    (removed,) = await wait_for(world, "DesiredConfigRemoved", sim.device_id)
    assert (removed.repo, removed.commit) == ("home/config", head)
    where = f"home/config@main (at {head[:12]})"
    assert removed.detail == f"shelly/devices/porch.toml is no longer in {where}"
    # Nothing is compared against the file that is gone; the device is still followed.
    reply = await world.command("Apply", device_id=sim.device_id)
    assert reply["devices"][0]["result"] == "no_desired_config", reply
    sim.set_status("switch:0", {"output": True})
    await world.wait_status(
        sim.device_id, lambda s: s["online"] and s["components"]["switch:0"]["output"]
    )
    assert not world.named("DeviceReleased", sim.device_id)
    assert sim.config["switch:0"]["auto_off"] is False  # the device itself is untouched

    # The file is back: desired again, and its drift reported afresh.
    await git.push({"devices/porch.toml": device_file(sim, AUTO_OFF)})
    (_, desired) = await wait_for(world, "DesiredConfigChanged", sim.device_id, 2)
    assert desired.commit == git.remote.head()
    (_, again) = await wait_for(world, "DeviceDrifted", sim.device_id, 2)
    assert again.differences == drifted.differences

    # device_config: taken out of hearth.yaml: the same, without a repository.
    reply = await world.command(
        "ApplyDevices", devices=[{"name": "porch", "mac": sim.mac}], actor="hearth apply"
    )
    assert reply["ok"], reply
    (_, unnamed) = await wait_for(world, "DesiredConfigRemoved", sim.device_id, 2)
    assert (unnamed.repo, unnamed.commit) == ("home/config", None)
    assert unnamed.detail == "hearth.yaml no longer names a device_config repository"
    kinds = ("DesiredConfigChanged", "DeviceDrifted", "DesiredConfigRemoved", "DeviceReleased")
    history = [e.type for e in world.events if e.key == sim.device_id and e.type in kinds]
    assert history == [
        "DesiredConfigChanged",
        "DeviceDrifted",
        "DesiredConfigRemoved",
        "DesiredConfigChanged",
        "DeviceDrifted",
        "DesiredConfigRemoved",
    ]
