"""A deployment that never touched the host leaves the target's health as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hearth_events.catalogue import DeployRequested
from hearth_events.ids import uuid7
from tests.integration.deployer.harness import World, tree_digest
from tests.integration.deployer.read_side import ReadSide
from tests.integration.deployer.test_deployments import deploy_base
from tests.support.memhost import MemoryBox
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration
UNKNOWN = "0123456789abcdef0123456789abcdef01234567"


async def test_an_unknown_commit_or_invalid_config_fails_with_the_host_untouched(
    world: World, box: MemoryBox, ha_sim: Any, start_service: Callable[..., ServiceProcess]
) -> None:
    read = await ReadSide.start(world, start_service)
    running = await deploy_base(world, box, ha_sim)
    before = tree_digest(box.remote_root)

    asked = str(uuid7())
    await world.publish(
        DeployRequested(
            deployment_id=asked, target="ha", repo="home/config", commit=UNKNOWN, trigger="manual"
        )
    )
    _, unknown = await world.wait_terminal("ha", 2)
    assert unknown.type == "DeploymentFailed"
    reason = unknown.data.reason  # type: ignore[attr-defined]
    assert "\n" not in reason
    assert UNKNOWN in reason and "home/config" in reason and "does not exist" in reason
    assert unknown.data.host_touched is False  # type: ignore[attr-defined]

    await world.push({"configuration.yaml": "homeassistant: [unclosed\n"})
    _, _, invalid = await world.wait_terminal("ha", 3)
    assert invalid.type == "DeploymentFailed"
    assert invalid.data.step == "validate"  # type: ignore[attr-defined]
    assert invalid.data.host_touched is False  # type: ignore[attr-defined]
    assert tree_digest(box.remote_root) == before

    invalid_id = invalid.data.deployment_id  # type: ignore[attr-defined]
    failed = await read.until(
        f"/api/v1/deployments/{invalid_id}", lambda d: d["status"] == "failed"
    )
    assert failed["host_touched"] is False
    shown = await read.get(f"/api/v1/deployments/{asked}")
    assert (shown["status"], shown["host_touched"], shown["reason"]) == ("failed", False, reason)
    (target,) = (await read.get("/api/v1/targets"))["items"]
    # The target runs what it ran, as healthy as it was.
    assert (target["status"], target["last_status"]) == ("green", "succeeded")
    assert target["current_commit"] == running
