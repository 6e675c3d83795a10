"""Queueing, cancelling, rolling back on request, and surviving a deployer that dies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hearth_events.catalogue import (
    DeploymentCancelRequested,
    RollbackRequested,
)
from hearth_events.ids import uuid7
from tests.integration.deployer.harness import World, files_target, ha_target, tree_digest
from tests.integration.deployer.test_deployments import BASE, deploy_base
from tests.support.spies import spy

pytestmark = pytest.mark.integration


class Gate:
    """Holds a run at a named checkpoint until opened: from the ``number``-th time a run
    reaches it (the second ``cancel`` is after the backup, before the upload)."""

    def __init__(self, at: str, number: int = 1) -> None:
        self.at, self.number, self.seen = at, number, 0
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()

    async def __call__(self, name: str) -> None:
        if name != self.at:
            return
        self.seen += 1
        if self.seen >= self.number and not self.opened.is_set():
            self.reached.set()
            await self.opened.wait()


def hold_at(deployer: Any, step: str, number: int = 1) -> Gate:
    """Make ``deployer``'s runs stop at ``step`` (its ``number``-th) until the gate is
    opened."""
    gate = Gate(step, number)
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


async def test_a_pushed_deployment_never_reads_its_targets_line_from_the_store(
    world: World, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The save that queues a push's deployment holds the target's line; the kick starts
    from it, the run from the kick, the next kick from the run's last write: a fan-out's
    twenty targets asked the store for their lines twenty times for nothing."""
    await world.start()
    reply = await world.apply_targets(files_target(sshd, "files"))
    assert reply["ok"], reply
    await world.push({"a.yaml": "a: 1\n"})
    (first,) = await world.wait_terminal("files")
    assert first.type == "DeploymentSucceeded", first
    (deployer,) = world.deployers
    assert deployer.dispatcher is not None
    store = deployer.dispatcher.store
    reads = spy(monkeypatch, store, "read")
    await world.push({"a.yaml": "a: 2\n"})
    _, done = await world.wait_terminal("files", 2)
    assert done.type == "DeploymentSucceeded", done
    assert [args for args in reads if args[0] == store.app.line] == []


async def restore_then_push_without_a_restored_file(world: World, host: Any) -> None:
    """A restore (``hearth rollback`` to the last backup) puts back a file its deployment
    had removed; the next deployment from a repository without that file removes it
    again: the host ends equal to the repository, not to it plus what a restore left."""
    await world.start()
    assert (await world.apply_targets(files_target(host, "web")))["ok"]
    await world.push({"a.conf": "a\n", "b.conf": "b\n"})
    await world.wait_terminal("web")
    await world.push({"b.conf": None})  # its backup holds b.conf
    await world.wait_terminal("web", 2)
    assert not (host.remote_root / "b.conf").exists()

    await world.publish(
        RollbackRequested(deployment_id=str(uuid7()), target="web", reason="back"),
        actor="token:ops",
    )
    found = await world.wait_terminal("web", 3)
    assert found[-1].type == "RollbackCompleted", found[-1]
    assert (host.remote_root / "b.conf").read_text() == "b\n"  # put back

    await world.push({"c.conf": "c\n"})  # the repository still has no b.conf
    found = await world.wait_terminal("web", 4)
    assert found[-1].type == "DeploymentSucceeded", found[-1]
    held = sorted(p.name for p in host.remote_root.iterdir() if not p.name.startswith("."))
    assert held == ["a.conf", "c.conf"]


async def test_a_file_a_restore_put_back_goes_with_the_next_push_that_lacks_it(
    world: World, sshd: Any
) -> None:
    await restore_then_push_without_a_restored_file(world, sshd)
