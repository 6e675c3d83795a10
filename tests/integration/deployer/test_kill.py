"""kill -9 of a real deployer process at a named step, and the one path each step must take.

The deployer runs as its own process with ``HEARTH_FAULT=<point>:kill``: it SIGKILLs itself
exactly there (its marker says so), a clean process takes over, and the test asserts the
outcome the code promises for that step — not "success or compensation", but which one:

- killed before anything was written to the host: the run resumes and succeeds;
- killed with the new files half in place: the backup is restored, the deployment fails
  with ``rolled_back`` and the host holds exactly the old tree;
- killed after the new tree was whole: the run resumes after the upload and succeeds;
- killed during a rollback: the rollback is carried to its end, the old tree restored.

The bench (``python -m bench faults``) covers every point; this test a few, quickly.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from hearth_deployer.adapters.lease import lease_key
from hearth_events.catalogue import RollbackRequested
from hearth_events.ids import uuid7
from hearth_events.jetstream import LOCKS_BUCKET
from hearth_servicekit.faults import FAULT_ENV, READY_ENV
from tests.integration.deployer.harness import World, ha_target, tree_digest
from tests.integration.deployer.test_deployments import BASE, CONFIGURATION
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration

#: Changed and new files: while they are being written the host holds a mix of both trees.
NEW = {
    "configuration.yaml": CONFIGURATION + "\n",
    "automations.yaml": "# broken: true\n[]\n",
    **{f"www/page-{n:02}.yaml": f"page: {n}\n" for n in range(20)},
}


@dataclass(frozen=True)
class Expected:
    terminal: str
    new_tree: bool  # the host ends with the new tree (else exactly the old one)
    healthy: bool = True  # the new files start (else the rollback runs)


EXPECTED = {
    # The upload has not begun: nothing on the host changed; the run resumes.
    "deploy.backed_up": Expected("DeploymentSucceeded", new_tree=True),
    # New files written, the removal not done: compensated from the backup.
    "deploy.uploaded": Expected("DeploymentFailed", new_tree=False),
    # FilesDeployed recorded: the tree is whole; the run resumes at the host check.
    "deploy.files_deployed": Expected("DeploymentSucceeded", new_tree=True),
    # The new files never become healthy; killed with the backup back in place.
    "rollback.files_restored": Expected("RollbackCompleted", new_tree=False, healthy=False),
}


def new_tree(before: dict[str, str]) -> set[str]:
    return {p for p in before if not p.endswith("/")} | set(NEW)


async def lease_held(world: World) -> bool:
    kv = await world.js.key_value(LOCKS_BUCKET)
    try:
        entry = await kv.get(lease_key("ha"))
    except NotFoundError:
        return False
    return bool(entry.value)


@pytest.mark.parametrize("point", list(EXPECTED))
async def test_kill_9_at_a_step_takes_the_path_that_step_promises(
    point: str,
    world: World,
    sshd: Any,
    ha_sim: Any,
    tmp_path: Path,
    start_service: Callable[..., ServiceProcess],
) -> None:
    expected = EXPECTED[point]
    env = {
        "HEARTH_NATS_URL": world.nats_url,
        "HEARTH_DATABASE_URL": world.database_url,
        "HEARTH_DATA_DIR": str(world.data_dir),
        "HEARTH_INSTANCE": "deployer-kill",
    }
    first = start_service("deployer", **env)
    first.wait_for("/readyz", 200)
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url))
    assert reply["ok"], reply
    await world.push(BASE)
    (base,) = await world.wait_terminal("ha")
    assert base.type == "DeploymentSucceeded", base
    assert first.terminate() == 0
    before = tree_digest(sshd.remote_root)
    restarts = ha_sim.restarts
    if not expected.healthy:
        ha_sim.fails_to_start = lambda config: (
            "broken: true" in (config / "automations.yaml").read_text()
        )

    marker = tmp_path / "fault-marker"
    armed = start_service("deployer", **env, **{FAULT_ENV: f"{point}:kill", READY_ENV: str(marker)})
    armed.wait_for("/readyz", 200)
    await world.push(NEW)
    code = await asyncio.to_thread(armed.process.wait, 60)
    assert code == -signal.SIGKILL, armed.output()
    assert marker.read_text() == f"{point} kill {armed.process.pid}\n"  # died right there

    restarted = start_service("deployer", **env)
    restarted.wait_for("/readyz", 200)
    _, done = await world.wait_terminal("ha", 2, timeout=120)
    deployment_id = done.data.deployment_id  # type: ignore[attr-defined]
    types = await world.types(deployment_id)
    assert done.type == expected.terminal, (types, await world.logs(deployment_id))
    assert types.count(expected.terminal) == 1
    assert types.count("DeploymentStarted") == 1  # resumed, not started over
    assert types.count("BackupTaken") == 1  # one backup, taken before the kill

    after = tree_digest(sshd.remote_root)
    if expected.new_tree:
        assert {p for p in after if not p.endswith("/")} == new_tree(before)
        for path, content in NEW.items():  # the new content, not only the new names
            assert after[path].split()[0] == hashlib.sha256(content.encode()).hexdigest(), path
        assert ha_sim.restarts == restarts + 1
    else:
        assert after == before  # exactly the old tree, byte for byte and mode for mode
    if done.type == "DeploymentFailed":
        assert done.data.step == "upload" and done.data.rolled_back  # type: ignore[attr-defined]
        assert "ServiceRestarted" not in types and ha_sim.restarts == restarts
    if not expected.healthy:
        assert types.count("RollbackStarted") == 1  # the restart resumed the rollback
        assert ha_sim.state == "RUNNING"
    assert not [p for p in after if ".hearth-" in p]  # no temporary files left behind
    async with asyncio.timeout(30):  # the lease goes with the run that held it
        while await lease_held(world):
            await asyncio.sleep(0.05)


async def test_kill_9_after_a_restore_began_carries_the_restore_to_its_end(
    world: World,
    sshd: Any,
    ha_sim: Any,
    tmp_path: Path,
    start_service: Callable[..., ServiceProcess],
) -> None:
    """``hearth rollback`` killed once it marked its restore as begun: the next process
    restores that backup (it does not take another safety backup first)."""
    env = {
        "HEARTH_NATS_URL": world.nats_url,
        "HEARTH_DATABASE_URL": world.database_url,
        "HEARTH_DATA_DIR": str(world.data_dir),
        "HEARTH_INSTANCE": "deployer-kill",
    }
    first = start_service("deployer", **env)
    first.wait_for("/readyz", 200)
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url))
    assert reply["ok"], reply
    await world.push(BASE)
    await world.wait_terminal("ha")
    before = tree_digest(sshd.remote_root)
    await world.push({"automations.yaml": "[]\n"})
    (_, deployed) = await world.wait_terminal("ha", 2)
    assert deployed.type == "DeploymentSucceeded", deployed
    assert first.terminate() == 0

    point = "rollback.restore_begun"
    marker = tmp_path / "fault-marker"
    armed = start_service("deployer", **env, **{FAULT_ENV: f"{point}:kill", READY_ENV: str(marker)})
    armed.wait_for("/readyz", 200)
    rollback_id = str(uuid7())
    await world.publish(
        RollbackRequested(deployment_id=rollback_id, target="ha", reason="I preferred it"),
        actor="token:ops",
    )
    code = await asyncio.to_thread(armed.process.wait, 60)
    assert code == -signal.SIGKILL, armed.output()
    assert marker.read_text() == f"{point} kill {armed.process.pid}\n"

    restarted = start_service("deployer", **env)
    restarted.wait_for("/readyz", 200)
    *_, done = await world.wait_terminal("ha", 3, timeout=120)
    types = await world.types(rollback_id)
    assert done.type == "RollbackCompleted", (types, await world.logs(rollback_id))
    assert types.count("DeploymentStarted") == 1
    assert types.count("BackupTaken") == 1  # the safety backup, taken before the kill
    assert types.count("RollbackStarted") == 1
    assert tree_digest(sshd.remote_root) == before
