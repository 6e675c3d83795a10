"""``hearth devices`` and ``hearth firmware`` against the real query API over the fleet of
tests/support/fleet.py, with a stand-in device manager answering its commands on NATS."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest

from hearth_events import EventData, new_event
from hearth_events.catalogue import (
    FirmwareRolloutHalted,
    FirmwareRolloutStarted,
    FirmwareRolloutWaveStarted,
    FirmwareUpdated,
    FirmwareUpdateFailed,
    FirmwareUpdateStarted,
)
from hearth_events.publish import publish_event
from tests.integration.query_api.conftest import Api
from tests.support.fleet import HALL, KITCHEN, PORCH

pytestmark = pytest.mark.integration

HEARTH = [sys.executable, "-m", "hearth.cli"]


async def hearth(api: Api, *args: str, token: str = "operator") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HEARTH_API_URL": api.base,
        "HEARTH_API_TOKEN": api.tokens[token],
        "XDG_CONFIG_HOME": "/nonexistent",
    }
    return await asyncio.to_thread(
        subprocess.run, [*HEARTH, *args], env=env, capture_output=True, text=True, timeout=60
    )


def rollout_events() -> list[EventData]:
    """ro-3: the kitchen (canary) updates, the hall fails and halts it."""
    r, old, new = "ro-3", "1.4.4", "1.5.0"
    return [
        FirmwareRolloutStarted(rollout_id=r, waves=((KITCHEN,), (HALL,))),
        FirmwareRolloutWaveStarted(rollout_id=r, wave=0, device_ids=(KITCHEN,)),
        FirmwareUpdateStarted(device_id=KITCHEN, from_version=old, to_version=new),
        FirmwareUpdated(device_id=KITCHEN, version=new),
        FirmwareRolloutWaveStarted(rollout_id=r, wave=1, device_ids=(HALL,)),
        FirmwareUpdateStarted(device_id=HALL, from_version=old, to_version=new),
        FirmwareUpdateFailed(device_id=HALL, from_version=old, to_version=new, reason="ota_error"),
        FirmwareRolloutHalted(rollout_id=r, wave=1, device_id=HALL, reason="ota_error"),
    ]


@pytest.fixture
async def device_manager(api: Api) -> AsyncIterator[list[tuple[str, dict[str, Any]]]]:
    """Answers every device command; a rollout it starts plays out as events."""
    asked: list[tuple[str, dict[str, Any]]] = []
    nc = await nats.connect(api.nats_url)
    js = nc.jetstream()
    tasks = []

    async def play_rollout() -> None:
        for data in rollout_events():
            await publish_event(js, new_event(data, source="device-manager", actor="hearth"))

    async def answer(message: Any) -> None:
        command = message.subject.rsplit(".", 1)[1]
        request = json.loads(message.data)
        asked.append((command, request))
        reply: dict[str, Any] = {"ok": True}
        if command == "Import":
            name = {KITCHEN: "kitchen", HALL: "hall"}.get(request["device_id"], "porch")
            reply["toml"] = f'name = "{name}"\n[switch.0]\nauto_off = true\n'
            reply |= {"name": name, "path": f"devices/{name}.toml"}
        elif command == "Discover":
            reply["found"] = [{"device_id": PORCH, "model": "SHSW-1", "address": "10.0.0.13"}]
        elif command == "FirmwareRollout":
            reply["rollout_id"] = "ro-3"
            tasks.append(asyncio.create_task(play_rollout()))
        await message.respond(json.dumps(reply).encode())

    await nc.subscribe("hearth.cmd.device.*", cb=answer)
    await nc.flush()
    yield asked
    await asyncio.gather(*tasks)
    await nc.close()


async def test_devices_ls_show_and_export(api: Api, tmp_path: Path) -> None:
    done = await hearth(api, "devices", "ls", "--json")
    assert done.returncode == 0, done.stderr
    assert [d["device_id"] for d in json.loads(done.stdout)] == [PORCH, HALL, KITCHEN]
    done = await hearth(api, "devices", "ls", "--drifted", "--site", "home")
    assert done.returncode == 0, done.stderr
    assert "kitchen" in done.stdout and "drifted (1)" in done.stdout and "hall" not in done.stdout
    done = await hearth(api, "devices", "ls", "--limit", "2", "--json")
    assert len(json.loads(done.stdout)) == 2

    done = await hearth(api, "devices", "show", "kitchen")
    assert done.returncode == 0, done.stderr
    assert "switch:0.auto_off" in done.stdout and "bk-kitchen-1" in done.stdout
    done = await hearth(api, "devices", "show", "attic")
    assert done.returncode == 2
    assert "no device 'attic'" in done.stderr and len(done.stderr.strip().splitlines()) == 1

    done = await hearth(api, "devices", "export", "--format", "dnsmasq", "--site", "home")
    assert done.stdout.splitlines()[1:] == [
        "dhcp-host=a8:03:2a:b1:00:01,10.0.0.11,kitchen",
        "dhcp-host=a8:03:2a:b1:00:02,10.0.0.12,hall",
    ]
    target = tmp_path / "fleet.json"
    done = await hearth(api, "devices", "export", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert len(json.loads(target.read_text())["devices"]) == 3


async def test_device_commands_reach_the_device_manager(
    api: Api, device_manager: list[tuple[str, dict[str, Any]]], tmp_path: Path
) -> None:
    done = await hearth(api, "devices", "apply", "kitchen", "hall")
    assert done.returncode == 0, done.stderr
    assert "kitchen: applied" in done.stderr and "hall: applied" in done.stderr
    toml = tmp_path / "devices" / "hall.toml"
    done = await hearth(api, "devices", "import", "hall", "-o", str(toml))
    assert done.returncode == 0, done.stderr
    assert toml.read_text().startswith('name = "hall"')
    done = await hearth(api, "devices", "discover", "10.0.0.0/28", "--json")
    assert json.loads(done.stdout)[0]["device_id"] == PORCH
    done = await hearth(api, "devices", "adopt", PORCH, "--name", "porch")
    assert done.returncode == 2 and "needs the admin role" in done.stderr  # an operator
    done = await hearth(api, "devices", "adopt", PORCH, "--name", "porch", token="admin")
    assert done.returncode == 0, done.stderr
    done = await hearth(api, "devices", "release", "porch", token="admin")
    assert done.returncode == 0 and "porch: released" in done.stderr, done.stderr
    await hearth(api, "devices", "backup", "hall")
    await hearth(api, "devices", "restore", "hall", "bk-hall-1")
    assert [c for c, _ in device_manager] == [
        "Apply",
        "Apply",
        "Import",
        "Discover",
        "Adopt",
        "Release",
        "Backup",
        "Restore",
    ]
    assert device_manager[-1][1] == {
        "device_id": HALL,
        "backup_id": "bk-hall-1",
        "actor": "token:ops",
    }


async def test_a_rollout_is_followed_until_it_halts(
    api: Api, device_manager: list[tuple[str, dict[str, Any]]]
) -> None:
    done = await hearth(api, "firmware", "status")
    assert done.returncode == 0, done.stderr
    assert "hall" in done.stdout and "ro-2" in done.stdout and "halted" in done.stdout

    done = await hearth(
        api, "firmware", "rollout", "kitchen", "hall", "--wave-size", "1", "--pin", "SNSW=1.5.0"
    )
    assert done.returncode == 1, done.stderr  # halted
    assert device_manager == [
        (
            "FirmwareRollout",
            {
                "wave_size": 1,
                "pin": {"SNSW": "1.5.0"},
                "device_ids": [KITCHEN, HALL],
                "actor": "token:ops",
            },
        )
    ]
    assert "wave 0 kitchen updated" in done.stderr
    assert "wave 1 hall failed: ota_error" in done.stderr
    assert "halted at " + HALL in done.stderr
    # A device's firmware events moved it in the running rollout only, not in ended ones.
    for rollout_id, expected in (("ro-1", ["updated", "skipped"]), ("ro-2", ["failed", "pending"])):
        _, shown = api.call("GET", f"/api/v1/rollouts/{rollout_id}")
        assert [d["status"] for d in shown["devices"]] == expected, rollout_id

    done = await hearth(api, "firmware", "rollout", "--pin", "nonsense")
    assert done.returncode == 2 and "MODEL=VERSION" in done.stderr


async def test_the_fleet_is_imported_into_a_branch_and_the_checkout_stays_as_it_was(
    api: Api, device_manager: list[tuple[str, dict[str, Any]]], tmp_path: Path
) -> None:
    """How a user brings an existing fleet into Git: every adopted device, one commit on a
    new branch of their clone, ready to push; their own work in progress untouched."""
    repo = tmp_path / "fleet"
    repo.mkdir()
    for args in (
        ("init", "-q", "-b", "main"),
        ("config", "user.email", "ann@example.org"),
        ("config", "user.name", "Ann"),
        ("commit", "-q", "--allow-empty", "-m", "start"),
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    (repo / "notes.txt").write_text("work in progress\n")

    done = await hearth(
        api,
        "devices",
        "import",
        "--all",
        "--repo",
        str(repo),
        "--folder",
        "shelly",
        "--branch",
        "import/fleet",
    )
    assert done.returncode == 0, done.stderr
    assert "committed 2 files to import/fleet" in done.stderr
    assert "git push origin import/fleet" in done.stderr
    adopted = {r["device_id"] for c, r in device_manager if c == "Import"}
    assert adopted == {KITCHEN, HALL}  # the porch is not adopted

    def git(*args: str) -> str:
        run = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
        )
        return run.stdout.strip()

    listed = git("ls-tree", "-r", "--name-only", "import/fleet")
    assert listed.splitlines() == ["shelly/devices/hall.toml", "shelly/devices/kitchen.toml"]
    assert git("show", "import/fleet:shelly/devices/kitchen.toml").startswith('name = "kitchen"')
    assert git("symbolic-ref", "--short", "HEAD") == "main"
    assert git("status", "--porcelain") == "?? notes.txt"  # nothing written, nothing staged

    done = await hearth(api, "devices", "import", "kitchen", "hall")
    assert done.returncode == 2
    assert "several devices need --repo DIR" in done.stderr
    done = await hearth(api, "devices", "import", "hall", "--branch", "x")
    assert done.returncode == 2 and "--branch needs --repo DIR" in done.stderr
    done = await hearth(api, "devices", "import", "hall", "--repo", str(tmp_path), "--branch", "x")
    assert done.returncode == 1
    assert f"{tmp_path} is not a Git working tree" in done.stderr
