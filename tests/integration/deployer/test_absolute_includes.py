"""A configuration written on Home Assistant OS (absolute /config includes in dashboards and
packages) deploys as published to a host whose configuration lives elsewhere."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.deployer.harness import World, ha_target, tree_digest
from tests.unit.deployer.test_includes import PUBLISHED

pytestmark = pytest.mark.integration


async def test_absolute_includes_deploy_and_an_outside_path_is_refused(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    await world.start()
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url))
    assert reply["ok"], reply
    root = str(sshd.remote_root)  # not /config: /config is still accepted by default
    published = {
        **PUBLISHED,
        "configuration.yaml": PUBLISHED["configuration.yaml"]
        + f"scene: !include {root}/scenes.yaml\n",
        "scenes.yaml": "[]\n",
        ".HA_VERSION": "2020.1.0\n",  # committed by mistake: Home Assistant's own file
    }
    await world.push(published)
    (done,) = await world.wait_terminal("ha")
    deployment_id = done.data.deployment_id  # type: ignore[attr-defined]
    logs = await world.logs(deployment_id)
    assert done.type == "DeploymentSucceeded", logs
    assert ha_sim.checks >= 1 and ha_sim.restarts == 1  # the simulator read them as HA does
    for path, content in published.items():
        if path != ".HA_VERSION":
            assert (sshd.remote_root / path).read_text() == content
    assert not (sshd.remote_root / ".HA_VERSION").exists()
    assert any(
        line.startswith("skipped 1 file by the built-in Home Assistant ignore list: .HA_VERSION")
        for line in logs
    ), logs

    before = tree_digest(sshd.remote_root)
    await world.push({"automations.yaml": "- !include /etc/passwd\n"})
    _, failed = await world.wait_terminal("ha", 2)
    assert failed.type == "DeploymentFailed" and failed.data.step == "validate"  # type: ignore[attr-defined]
    reason = failed.data.reason  # type: ignore[attr-defined]
    assert reason.startswith(
        "1 problem(s), first: automations.yaml:1:3: !include /etc/passwd: outside the "
        f"configuration directory Home Assistant sees; tried /config, {root}"
    ), reason
    assert tree_digest(sshd.remote_root) == before
