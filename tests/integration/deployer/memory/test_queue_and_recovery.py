"""Queueing, cancelling, dry runs, waiting for CI, several targets: the host in memory."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.remote import CommandResult
from hearth_events.catalogue import (
    CiCompleted,
    DeploymentCancelRequested,
    DeployRequested,
    RollbackRequested,
)
from hearth_events.ids import uuid7
from tests.integration.deployer.harness import World, files_target, ha_target, tree_digest
from tests.integration.deployer.test_deployments import BASE, CONFIGURATION, deploy_base
from tests.integration.deployer.test_queue_and_recovery import (
    hold_at,
    restore_then_push_without_a_restored_file,
)
from tests.support.git import git
from tests.support.memhost import MemoryBox

pytestmark = pytest.mark.integration


async def test_pushes_while_busy_queue_one_follow_up_for_the_newest(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    await deploy_base(world, box, ha_sim)
    (deployer,) = world.deployers
    gate = hold_at(deployer, "fetched")
    await world.push({"automations.yaml": "[]\n"})
    await asyncio.wait_for(gate.reached.wait(), 30)
    await world.push({"scripts.yaml": "{}\n"})
    newest, _ = await world.push({"scenes.yaml": "[]\n"})
    await world.wait_for("ha", {"DeploymentSuperseded"})  # both pushes handled while busy
    gate.opened.set()
    found = await world.wait_terminal("ha", 4)
    assert [e.type for e in found] == [
        "DeploymentSucceeded",
        "DeploymentSuperseded",
        "DeploymentSucceeded",
        "DeploymentSucceeded",
    ]
    assert found[-1].data.commit == newest  # type: ignore[attr-defined]
    assert (box.remote_root / "scenes.yaml").exists()


async def test_a_redelivered_push_deploys_once(world: World, box: MemoryBox, ha_sim: Any) -> None:
    await deploy_base(world, box, ha_sim)
    (deployer,) = world.deployers
    _, push = await world.push({"automations.yaml": "[]\n"})
    handlers = deployer.handlers
    assert handlers is not None
    await handlers.handle(push)  # JetStream redelivers after a lost ack
    await world.wait_terminal("ha", 2)
    await asyncio.sleep(1)
    requested = [e for e in await world.events("ha") if e.type == "DeployRequested"]
    assert len(requested) == 2  # the base deployment and this push, once


async def test_cancel_a_waiting_deployment(world: World, box: MemoryBox, ha_sim: Any) -> None:
    await deploy_base(world, box, ha_sim)
    (deployer,) = world.deployers
    gate = hold_at(deployer, "fetched")
    await world.push({"automations.yaml": "[]\n"})
    await asyncio.wait_for(gate.reached.wait(), 30)
    waiting_id = str(uuid7())
    await world.publish(
        DeployRequested(
            deployment_id=waiting_id, target="ha", repo="home/config", trigger="manual"
        ),
        actor="token:ops",
    )
    await world.publish(DeploymentCancelRequested(deployment_id=waiting_id, target="ha"))
    await world.wait_for("ha", {"DeploymentCancelled"}, deployment_id=waiting_id)
    gate.opened.set()
    found = await world.wait_terminal("ha", 3)
    by_id = {e.data.deployment_id: e.type for e in found}  # type: ignore[attr-defined]
    assert by_id[waiting_id] == "DeploymentCancelled"
    assert "BackupTaken" not in await world.types(waiting_id)


async def test_rollback_on_request_to_an_earlier_commit(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    first = await deploy_base(world, box, ha_sim)
    before = tree_digest(box.remote_root)
    await world.push({"automations.yaml": "[]\n"})
    await world.wait_terminal("ha", 2)
    await world.publish(RollbackRequested(deployment_id=str(uuid7()), target="ha", to_commit=first))
    found = await world.wait_terminal("ha", 3)
    assert found[-1].type == "DeploymentSucceeded"
    assert found[-1].data.commit == first  # type: ignore[attr-defined]
    assert tree_digest(box.remote_root, ignore=(".hearth",)) == before


async def test_dry_run_plans_and_touches_nothing(world: World, box: MemoryBox, ha_sim: Any) -> None:
    await deploy_base(world, box, ha_sim)
    world.remote.commit({"automations.yaml": "[]\n"})
    world.remote.push()
    before = tree_digest(box.remote_root)
    dry_id = str(uuid7())
    await world.publish(
        DeployRequested(
            deployment_id=dry_id, target="ha", repo="home/config", trigger="manual", dry_run=True
        )
    )
    _, done = await world.wait_terminal("ha", 2)
    assert done.type == "DeploymentSucceeded"
    types = await world.types(dry_id)
    assert "DeploymentPlanned" in types and "BackupTaken" not in types
    assert tree_digest(box.remote_root) == before


async def test_a_push_waits_for_ci_when_the_target_requires_it(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    await deploy_base(world, box, ha_sim)
    reply = await world.apply_targets(ha_target(box, ha_sim.url, require_ci=True))
    assert reply["changes"] == [{"type": "TargetUpdated", "name": "ha"}], reply
    after, _ = await world.push({"automations.yaml": "[]\n"})
    await asyncio.sleep(2)
    assert len(await world.wait_terminal("ha", 1)) == 1  # nothing more deployed yet
    await world.publish(
        CiCompleted(
            delivery_id="ci-1", repo="home/config", commit=after, conclusion="success", name="ci"
        )
    )
    found = await world.wait_terminal("ha", 2)
    assert found[-1].type == "DeploymentSucceeded"
    assert found[-1].data.commit == after  # type: ignore[attr-defined]


async def test_several_targets_from_one_push(
    world: World, box: MemoryBox, ha_sim: Any, tmp_path: Path
) -> None:
    other = MemoryBox(tmp_path / "other" / "config", box.hosts, host="other.lan")
    conf = f"{other.remote_root}/nginx.conf"
    other.memory.on(
        "test -f nginx.conf", lambda _: CommandResult(int(conf not in other.memory.files), "", "")
    )
    other.memory.on(
        "grep -q listen nginx.conf",
        lambda _: CommandResult(int(b"listen" not in other.memory.files[conf].data), "", ""),
    )
    await world.start()
    reply = await world.apply_targets(
        ha_target(box, ha_sim.url),
        files_target(
            other,
            "nginx",
            subdirectory="nginx",
            post_deploy=["test -f nginx.conf"],
            health_check="grep -q listen nginx.conf",
            health_timeout_s=5,
        ),
    )
    assert reply["ok"], reply
    await world.push({**BASE, "nginx/nginx.conf": "server { listen 80; }\n"})
    (ha_done,) = await world.wait_terminal("ha")
    (nginx_done,) = await world.wait_terminal("nginx")
    assert ha_done.type == nginx_done.type == "DeploymentSucceeded", (
        await world.logs(ha_done.data.deployment_id),  # type: ignore[attr-defined]
        await world.logs(nginx_done.data.deployment_id),  # type: ignore[attr-defined]
    )
    assert (other.remote_root / "nginx.conf").read_text() == "server { listen 80; }\n"
    assert not (other.remote_root / "configuration.yaml").exists()


async def test_symlinks_in_the_repository_are_refused(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    await world.start()
    reply = await world.apply_targets(ha_target(box, ha_sim.url))
    assert reply["ok"], reply
    world.remote.commit(dict(BASE))
    os.symlink("/etc/passwd", world.remote.work / "passwd.yaml")
    git(world.remote.work, "add", "passwd.yaml")
    await world.push({"configuration.yaml": CONFIGURATION})
    (done,) = await world.wait_terminal("ha")
    assert done.type == "DeploymentFailed"
    assert done.data.step == "validate"  # type: ignore[attr-defined]
    assert any("symlink" in line.lower() for line in await world.logs(done.data.deployment_id))  # type: ignore[attr-defined]
    assert not (box.remote_root / "configuration.yaml").exists()


async def test_bad_targets_are_refused_with_reasons(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    await world.start()
    reply = await world.apply_targets(
        ha_target(box, ha_sim.url, remote_path="relative/path", known_host_key=None),
        ha_target(box, ha_sim.url, name="ha2", ha_url=None),
    )
    assert not reply["ok"]
    assert "target ha: remote_path must be an absolute directory" in reply["error"]
    assert "target ha: give known_host_key" in reply["error"]
    assert "target ha2: a homeassistant target needs ha_url" in reply["error"]
    reply = await world.apply_targets(ha_target(box, ha_sim.url), dry_run=True)
    assert reply == {
        "ok": True,
        "changes": [{"type": "TargetRegistered", "name": "ha"}],
        "dry_run": True,
    }


async def test_a_file_a_restore_put_back_goes_with_the_next_push_that_lacks_it(
    world: World, box: MemoryBox
) -> None:
    await restore_then_push_without_a_restored_file(world, box)
