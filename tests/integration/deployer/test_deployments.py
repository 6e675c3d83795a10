"""Pushes become deployments over real SSH, judged by a simulated Home Assistant."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.deployer.harness import World, ha_target, tree_digest

pytestmark = pytest.mark.integration

CONFIGURATION = """\
homeassistant:
  name: Home
automation: !include automations.yaml
sensor: !include_dir_merge_list sensors/
"""
AUTOMATIONS = """\
- alias: Lights at dusk
  trigger:
    - platform: sun
      event: sunset
  action:
    - service: light.turn_on
"""
BASE = {
    "configuration.yaml": CONFIGURATION,
    "automations.yaml": AUTOMATIONS,
    "sensors/temperature.yaml": "- platform: template\n",
}


async def deploy_base(world: World, sshd: Any, ha_sim: Any, **target: Any) -> str:
    await world.start()
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url, **target))
    assert reply["ok"], reply
    commit, _ = await world.push(BASE)
    (done,) = await world.wait_terminal("ha")
    assert done.type == "DeploymentSucceeded", await world.logs(done.data.deployment_id)  # type: ignore[attr-defined]
    return commit


async def test_home_assistant_rejecting_the_config_restores_the_files(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    await deploy_base(world, sshd, ha_sim)
    before = tree_digest(sshd.remote_root)
    await world.push(
        {"configuration.yaml": CONFIGURATION + "frobnicator:\n", "extra/new.yaml": "x: 1\n"}
    )
    _, failed = await world.wait_terminal("ha", 2)
    assert failed.type == "DeploymentFailed", failed
    assert failed.data.step == "host_check" and failed.data.rolled_back  # type: ignore[attr-defined]
    assert "Integration 'frobnicator' not found" in failed.data.reason  # type: ignore[attr-defined]
    assert tree_digest(sshd.remote_root) == before
    assert ha_sim.restarts == 1  # only the first deployment restarted


async def test_unhealthy_after_restart_rolls_back_byte_identical(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    await deploy_base(world, sshd, ha_sim)
    before = tree_digest(sshd.remote_root)
    ha_sim.fails_to_start = lambda config: (
        "broken: true" in (config / "automations.yaml").read_text()
    )
    await world.push(
        {"automations.yaml": "# broken: true\n[]\n", "configuration.yaml": CONFIGURATION + "\n"}
    )
    _, done = await world.wait_terminal("ha", 2)
    assert done.type == "RollbackCompleted", await world.logs(done.data.deployment_id)  # type: ignore[attr-defined]
    types = await world.types(done.data.deployment_id)  # type: ignore[attr-defined]
    assert types[-4:] == [
        "HealthCheckFailed",
        "RollbackStarted",
        "ServiceRestarted",
        "RollbackCompleted",
    ]
    assert tree_digest(sshd.remote_root) == before
    assert ha_sim.state == "RUNNING"
