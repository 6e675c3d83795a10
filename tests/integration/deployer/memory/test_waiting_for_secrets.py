"""A target declared before its secrets waits for them instead of failing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.deployer.harness import World, files_target
from tests.integration.deployer.read_side import ReadSide
from tests.support.memhost import MemoryBox
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration


async def test_a_push_waits_for_the_missing_key_then_deploys_exactly_once(
    world: World, box: MemoryBox, start_service: Callable[..., ServiceProcess]
) -> None:
    read = await ReadSide.start(world, start_service)
    await world.start()
    target = files_target(box, "box", key_secret="box-ssh-key")  # not stored yet
    assert (await world.apply_targets(target))["ok"]
    await world.push({"a.txt": "hello\n"})

    (held,) = await world.wait_for("box", {"DeploymentWaiting"})
    assert held.data.waiting_for == ("box-ssh-key",)  # type: ignore[attr-defined]
    assert "waiting for secret box-ssh-key" in held.data.reason  # type: ignore[attr-defined]
    deployment_id = held.data.deployment_id  # type: ignore[attr-defined]
    (shown,) = (await read.until("/api/v1/targets", lambda t: t["items"][0]["waiting_for"] != []))[
        "items"
    ]
    assert shown["waiting_for"] == ["box-ssh-key"]
    waiting = await read.get(f"/api/v1/deployments/{deployment_id}")
    assert waiting["status"] == "waiting"
    assert "box-ssh-key" in waiting["reason"]
    assert not (box.remote_root / "a.txt").exists()

    await world.secret("box-ssh-key", box.client_key_text)
    (done,) = await world.wait_terminal("box")
    assert done.type == "DeploymentSucceeded", await world.logs(deployment_id)
    assert done.data.deployment_id == deployment_id  # type: ignore[attr-defined]
    assert (box.remote_root / "a.txt").read_text() == "hello\n"
    types = [e.type for e in await world.events("box") if e.type != "DeploymentLogged"]
    # One deployment, held once (not at every look), then run to the end.
    assert types.count("DeployRequested") == 1 and types.count("DeploymentStarted") == 1
    assert types.count("DeploymentWaiting") == 1
    assert types.index("DeploymentWaiting") < types.index("DeploymentStarted")
    (after,) = (await read.until("/api/v1/targets", lambda t: t["items"][0]["status"] == "green"))[
        "items"
    ]
    assert after["waiting_for"] == []
