"""A ``files`` target's restart step is its post-deploy commands: one that declares none
restarts nothing, and its deployment records no restart (the host in memory)."""

from __future__ import annotations

import pytest

from tests.integration.deployer.harness import World, files_target
from tests.support.memhost import MemoryBox

pytestmark = pytest.mark.integration

RELOAD = "./reload-the-service"
#: A files deployment's events up to its upload, and after its restart step.
STARTED = ["DeployRequested", "DeploymentStarted", "ConfigFetched", "ConfigValidated"]
DEPLOYED = ["DeploymentPlanned", "BackupTaken", "FilesDeployed"]
AFTER = ["HealthCheckPassed", "DeploymentSucceeded"]


async def _deployed(world: World, box: MemoryBox, **spec: object) -> list[str]:
    assert (await world.apply_targets(files_target(box, "web", **spec)))["ok"]
    await world.push({"site.conf": "listen 80\n"})
    (done,) = await world.wait_terminal("web")
    assert done.type == "DeploymentSucceeded", done
    return await world.types(done.data.deployment_id)  # type: ignore[attr-defined]


async def test_a_files_target_without_post_deploy_records_no_restart(
    world: World, box: MemoryBox
) -> None:
    await world.start()
    assert await _deployed(world, box) == [*STARTED, *DEPLOYED, *AFTER]


async def test_a_files_target_s_post_deploy_command_is_its_restart(
    world: World, box: MemoryBox
) -> None:
    box.memory.on(RELOAD, 0)
    await world.start()
    assert await _deployed(world, box, post_deploy=[RELOAD]) == [
        *STARTED,
        *DEPLOYED,
        "ServiceRestarted",
        *AFTER,
    ]
    assert box.memory.ran.count(RELOAD) == 1
