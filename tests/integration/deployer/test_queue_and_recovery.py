"""Queueing, cancelling, rolling back on request, and surviving a deployer that dies."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from hearth_events.catalogue import (
    CiCompleted,
    DeploymentCancelRequested,
    DeployRequested,
    RollbackRequested,
)
from hearth_events.ids import uuid7
from tests.integration.deployer.harness import World, files_target, ha_target, tree_digest
from tests.integration.deployer.test_deployments import BASE, CONFIGURATION, deploy_base
from tests.support.git import git

pytestmark = pytest.mark.integration


class Gate:
    """Holds a run at a named checkpoint until opened."""

    def __init__(self, at: str) -> None:
        self.at = at
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()

    async def __call__(self, name: str) -> None:
        if name == self.at and not self.opened.is_set():
            self.reached.set()
            await self.opened.wait()


def hold_at(deployer: Any, step: str) -> Gate:
    """Make ``deployer``'s runs stop at ``step`` until the gate is opened."""
    gate = Gate(step)
    assert deployer.dispatcher is not None
    deployer.dispatcher.ctx.checkpoint = gate
    return gate


async def test_a_deployer_stopped_mid_upload_is_compensated_on_restart(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    await deploy_base(world, sshd, ha_sim)
    before = tree_digest(sshd.remote_root)
    (first,) = world.deployers
    gate = hold_at(first, "uploaded")  # new files written, removals not yet done
    await world.push({"automations.yaml": "[]\n", "scripts.yaml": "{}\n"})
    await asyncio.wait_for(gate.reached.wait(), 30)
    assert tree_digest(sshd.remote_root) != before  # the target holds a mix right now
    await world.stop(first)  # the process goes away mid-step

    await world.start()  # the same instance comes back
    _, done = await world.wait_terminal("ha", 2)
    assert done.type == "DeploymentFailed", done
    assert done.data.step == "upload" and done.data.rolled_back  # type: ignore[attr-defined]
    assert tree_digest(sshd.remote_root) == before
    assert ha_sim.restarts == 1


async def test_pushes_while_busy_queue_one_follow_up_for_the_newest(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    await deploy_base(world, sshd, ha_sim)
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
    assert (sshd.remote_root / "scenes.yaml").exists()


async def test_a_redelivered_push_deploys_once(world: World, sshd: Any, ha_sim: Any) -> None:
    await deploy_base(world, sshd, ha_sim)
    (deployer,) = world.deployers
    _, push = await world.push({"automations.yaml": "[]\n"})
    handlers = deployer.handlers
    assert handlers is not None
    await handlers.handle(push)  # JetStream redelivers after a lost ack
    await world.wait_terminal("ha", 2)
    await asyncio.sleep(1)
    requested = [e for e in await world.events("ha") if e.type == "DeployRequested"]
    assert len(requested) == 2  # the base deployment and this push, once


async def test_cancel_a_running_deployment_after_upload_restores_it(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    await deploy_base(world, sshd, ha_sim)
    before = tree_digest(sshd.remote_root)
    restarts = ha_sim.restarts
    (deployer,) = world.deployers
    gate = hold_at(deployer, "uploaded")  # the new files are on the host, nothing restarted
    await world.push({"automations.yaml": "[]\n"})
    await asyncio.wait_for(gate.reached.wait(), 30)
    assert tree_digest(sshd.remote_root) != before
    dispatcher = deployer.dispatcher
    assert dispatcher is not None
    line = await dispatcher.store.read(dispatcher.store.app.line, "ha")
    deployment_id = line.active
    await world.publish(
        DeploymentCancelRequested(deployment_id=deployment_id, target="ha", reason="wrong branch"),
        actor="token:ops",
    )
    async with asyncio.timeout(30):  # the deployer has taken the request in
        while (
            await dispatcher.store.read(dispatcher.store.app.deployment, deployment_id)
        ).cancel_reason is None:
            await asyncio.sleep(0.05)
    gate.opened.set()
    _, done = await world.wait_terminal("ha", 2)
    assert done.type == "DeploymentCancelled", await world.logs(deployment_id)
    assert done.data.rolled_back and done.data.reason == "wrong branch"  # type: ignore[attr-defined]
    assert tree_digest(sshd.remote_root) == before
    types = await world.types(deployment_id)
    assert "FilesDeployed" in types and "ServiceRestarted" not in types
    assert ha_sim.restarts == restarts  # Home Assistant never saw the cancelled files


async def test_cancel_a_waiting_deployment(world: World, sshd: Any, ha_sim: Any) -> None:
    await deploy_base(world, sshd, ha_sim)
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


async def test_rollback_on_request_to_the_last_backup(world: World, sshd: Any, ha_sim: Any) -> None:
    await deploy_base(world, sshd, ha_sim)
    before = tree_digest(sshd.remote_root)
    await world.push({"automations.yaml": "[]\n"})
    await world.wait_terminal("ha", 2)
    assert tree_digest(sshd.remote_root) != before
    rollback_id = str(uuid7())
    await world.publish(
        RollbackRequested(deployment_id=rollback_id, target="ha", reason="I preferred it"),
        actor="token:ops",
    )
    found = await world.wait_terminal("ha", 3)
    assert found[-1].type == "RollbackCompleted", await world.logs(rollback_id)
    assert tree_digest(sshd.remote_root) == before
    types = await world.types(rollback_id)
    assert types[:4] == [
        "RollbackRequested",
        "DeployRequested",
        "DeploymentStarted",
        "BackupTaken",
    ]


async def test_rollback_on_request_to_an_earlier_commit(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    first = await deploy_base(world, sshd, ha_sim)
    before = tree_digest(sshd.remote_root)
    await world.push({"automations.yaml": "[]\n"})
    await world.wait_terminal("ha", 2)
    await world.publish(RollbackRequested(deployment_id=str(uuid7()), target="ha", to_commit=first))
    found = await world.wait_terminal("ha", 3)
    assert found[-1].type == "DeploymentSucceeded"
    assert found[-1].data.commit == first  # type: ignore[attr-defined]
    assert tree_digest(sshd.remote_root, ignore=(".hearth",)) == before


async def test_dry_run_plans_and_touches_nothing(world: World, sshd: Any, ha_sim: Any) -> None:
    await deploy_base(world, sshd, ha_sim)
    world.remote.commit({"automations.yaml": "[]\n"})
    world.remote.push()
    before = tree_digest(sshd.remote_root)
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
    assert tree_digest(sshd.remote_root) == before


async def test_a_push_waits_for_ci_when_the_target_requires_it(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    await deploy_base(world, sshd, ha_sim)
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url, require_ci=True))
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
    world: World, sshd: Any, sshd_factory: Any, ha_sim: Any
) -> None:
    other = sshd_factory()
    await world.start()
    reply = await world.apply_targets(
        ha_target(sshd, ha_sim.url),
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


async def test_a_files_target_whose_health_check_fails_is_rolled_back(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    del ha_sim
    (sshd.remote_root / "app.conf").write_text("port = 80\n")
    before = tree_digest(sshd.remote_root)
    await world.start()
    reply = await world.apply_targets(
        files_target(sshd, "app", health_check="grep -q 'port = 80' app.conf", health_timeout_s=2)
    )
    assert reply["ok"], reply
    await world.push({"app.conf": "port = 8o\n"})
    (done,) = await world.wait_terminal("app")
    assert done.type == "RollbackCompleted", await world.logs(done.data.deployment_id)  # type: ignore[attr-defined]
    assert tree_digest(sshd.remote_root) == before


async def test_ssh_authentication_failure_says_so(
    world: World, sshd: Any, ha_sim: Any, tmp_path: Any
) -> None:
    import asyncssh

    wrong = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    await world.secret("wrong-key", wrong)
    await world.start()
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url, key_secret="wrong-key"))
    assert reply["ok"], reply
    await world.push(BASE)
    (done,) = await world.wait_terminal("ha")
    assert done.type == "DeploymentFailed"
    assert "authenticat" in done.data.reason.lower()  # type: ignore[attr-defined]
    assert not (sshd.remote_root / "configuration.yaml").exists()


async def test_symlinks_in_the_repository_are_refused(world: World, sshd: Any, ha_sim: Any) -> None:
    await world.start()
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url))
    assert reply["ok"], reply
    world.remote.commit(dict(BASE))
    os.symlink("/etc/passwd", world.remote.work / "passwd.yaml")
    git(world.remote.work, "add", "passwd.yaml")
    await world.push({"configuration.yaml": CONFIGURATION})
    (done,) = await world.wait_terminal("ha")
    assert done.type == "DeploymentFailed"
    assert done.data.step == "validate"  # type: ignore[attr-defined]
    assert any("symlink" in line.lower() for line in await world.logs(done.data.deployment_id))  # type: ignore[attr-defined]
    assert not (sshd.remote_root / "configuration.yaml").exists()


async def test_bad_targets_are_refused_with_reasons(world: World, sshd: Any, ha_sim: Any) -> None:
    await world.start()
    reply = await world.apply_targets(
        ha_target(sshd, ha_sim.url, remote_path="relative/path", known_host_key=None),
        ha_target(sshd, ha_sim.url, name="ha2", ha_url=None),
    )
    assert not reply["ok"]
    assert "target ha: remote_path must be an absolute directory" in reply["error"]
    assert "target ha: give known_host_key" in reply["error"]
    assert "target ha2: a homeassistant target needs ha_url" in reply["error"]
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url), dry_run=True)
    assert reply == {
        "ok": True,
        "changes": [{"type": "TargetRegistered", "name": "ha"}],
        "dry_run": True,
    }


async def test_a_host_key_trusted_on_first_use_stays_pinned_across_restarts(
    world: World, sshd: Any, sshd_factory: Any, ha_sim: Any
) -> None:
    first = await world.start()
    reply = await world.apply_targets(
        ha_target(sshd, ha_sim.url, known_host_key=None, trust_on_first_use=True)
    )
    assert reply["ok"], reply
    await world.push(BASE)
    (done,) = await world.wait_terminal("ha")
    assert done.type == "DeploymentSucceeded"
    await world.stop(first)
    sshd.stop()  # the host is reinstalled: same address, a new host key
    impostor = sshd_factory(port=sshd.port)
    ha_sim.config_dir = impostor.remote_root
    await world.start()
    await world.push({"automations.yaml": "[]\n"})
    _, refused = await world.wait_terminal("ha", 2)
    assert refused.type == "DeploymentFailed"
    assert "host key" in refused.data.reason.lower()  # type: ignore[attr-defined]
    assert not (impostor.remote_root / "automations.yaml").exists()
