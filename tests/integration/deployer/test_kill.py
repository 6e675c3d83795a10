"""kill -9 of a real deployer process in the middle of a deployment."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.deployer.harness import World, ha_target, tree_digest
from tests.integration.deployer.test_deployments import BASE
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration

#: Enough files that the upload is under way for a while after the backup was taken.
LARGE = {f"www/page-{n:04}.yaml": f"page: {n}\nbody: {'x' * 4000}\n" for n in range(1200)}


async def test_kill_9_mid_deployment_never_leaves_a_mix(
    world: World,
    sshd: Any,
    ha_sim: Any,
    start_service: Callable[..., ServiceProcess],
) -> None:
    env = {
        "HEARTH_NATS_URL": world.nats_url,
        "HEARTH_DATABASE_URL": world.database_url,
        "HEARTH_DATA_DIR": str(world.data_dir),
        "HEARTH_INSTANCE": "deployer-kill",
    }
    deployer = start_service("deployer", **env)
    deployer.wait_for("/readyz", 200)
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url))
    assert reply["ok"], reply
    await world.push(BASE)
    await world.wait_terminal("ha")
    before = tree_digest(sshd.remote_root)

    await world.push(LARGE)
    async with asyncio.timeout(60):  # the backup is taken: the upload starts now
        while sum(e.type == "BackupTaken" for e in await world.events("ha")) < 2:
            await asyncio.sleep(0.05)
    deployer.process.send_signal(signal.SIGKILL)
    deployer.process.wait()

    restarted = start_service("deployer", **env)
    restarted.wait_for("/readyz", 200)
    _, done = await world.wait_terminal("ha", 2, timeout=120)
    after = tree_digest(sshd.remote_root)
    if done.type == "DeploymentSucceeded":  # the kill came after the upload
        assert set(after) == set(before) | set(LARGE)
    else:  # compensated: exactly the old tree
        assert done.data.rolled_back, done  # type: ignore[attr-defined]
        assert after == before
    assert not [p for p in after if ".hearth-" in p]  # no temporary files left behind
