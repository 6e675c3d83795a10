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


async def test_a_push_is_fetched_validated_backed_up_deployed_and_checked(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    (sshd.remote_root / ".storage").mkdir()
    (sshd.remote_root / ".storage" / "core.config").write_text("{}")  # HA's own state
    commit = await deploy_base(world, sshd, ha_sim)

    (done,) = await world.wait_terminal("ha")
    deployment_id = done.data.deployment_id  # type: ignore[attr-defined]
    assert await world.types(deployment_id) == [
        "DeployRequested",
        "DeploymentStarted",
        "ConfigFetched",
        "ConfigValidated",
        "DeploymentPlanned",
        "BackupTaken",
        "FilesDeployed",
        "HostCheckPassed",
        "ServiceRestarted",
        "HealthCheckPassed",
        "DeploymentSucceeded",
    ]
    assert done.data.commit == commit  # type: ignore[attr-defined]
    for path, content in BASE.items():
        assert (sshd.remote_root / path).read_text() == content
    assert (sshd.remote_root / ".storage" / "core.config").read_text() == "{}"
    assert ha_sim.restarts == 1
    events = await world.deployment_events(deployment_id)
    assert all(e.correlation_id == events[0].correlation_id for e in events)
    assert events[0].actor == "github:alice"
    assert any("fetched" in line for line in await world.logs(deployment_id))


async def test_a_change_to_automations_only_reloads_them(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    await deploy_base(world, sshd, ha_sim)
    await world.push({"automations.yaml": AUTOMATIONS.replace("dusk", "sunset")})
    _, second = await world.wait_terminal("ha", 2)
    assert second.type == "DeploymentSucceeded"
    deployment_id = second.data.deployment_id  # type: ignore[attr-defined]
    events = {e.type: e.data for e in await world.deployment_events(deployment_id)}
    planned = events["DeploymentPlanned"]
    assert [f.path for f in planned.changed] == ["automations.yaml"]  # type: ignore[attr-defined]
    assert "+- alias: Lights at sunset" in planned.diff  # type: ignore[attr-defined]
    restarted = events["ServiceRestarted"]
    assert restarted.method == "reload" and restarted.domains == ("automation",)  # type: ignore[attr-defined]
    assert ha_sim.restarts == 1 and ha_sim.reloads == ["automation"]


async def test_invalid_yaml_touches_nothing_on_the_target(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    await deploy_base(world, sshd, ha_sim)
    before = tree_digest(sshd.remote_root)
    await world.push({"automations.yaml": "- alias: [unclosed\n", "new.yaml": "a: 1\n"})
    _, failed = await world.wait_terminal("ha", 2)
    assert failed.type == "DeploymentFailed"
    assert failed.data.step == "validate"  # type: ignore[attr-defined]
    deployment_id = failed.data.deployment_id  # type: ignore[attr-defined]
    types = await world.types(deployment_id)
    assert "ValidationFailed" in types and "BackupTaken" not in types
    logs = await world.logs(deployment_id)
    assert any(
        "automations.yaml:2:1: " in line and "expected ',' or ']'" in line for line in logs
    ), logs
    assert tree_digest(sshd.remote_root) == before


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


async def test_one_changed_file_in_a_large_tree_is_all_that_travels(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    (sshd.remote_root / "notes.txt").write_text("mine, not Hearth's\n")
    large = {f"www/page-{n:03}.json": f'{{"page": {n}}}\n' for n in range(300)}
    await deploy_base(world, sshd, ha_sim)
    await world.push({**large, "old.yaml": "a: 1\n"})
    await world.wait_terminal("ha", 2)
    await world.push({"www/page-007.json": '{"page": "seven"}\n', "old.yaml": None})
    *_, done = await world.wait_terminal("ha", 3)
    assert done.type == "DeploymentSucceeded"
    events = {e.type: e.data for e in await world.deployment_events(done.data.deployment_id)}  # type: ignore[attr-defined]
    planned, deployed = events["DeploymentPlanned"], events["FilesDeployed"]
    assert [f.path for f in planned.changed] == ["www/page-007.json"]  # type: ignore[attr-defined]
    assert [f.path for f in planned.removed] == ["old.yaml"]  # type: ignore[attr-defined]
    assert (deployed.written, deployed.removed) == (1, 1)  # type: ignore[attr-defined]
    assert not (sshd.remote_root / "old.yaml").exists()  # Hearth deployed it: it goes
    assert (sshd.remote_root / "notes.txt").exists()  # never Hearth's: it stays
