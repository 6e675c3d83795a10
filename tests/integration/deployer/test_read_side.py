"""Real deployments, projected by the real query API: what the dashboard and CLI read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from hearth_events.catalogue import DeployRequested
from hearth_events.ids import uuid7
from tests.integration.deployer.harness import World
from tests.integration.deployer.read_side import ReadSide
from tests.integration.deployer.test_deployments import deploy_base
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration


async def test_deployments_reach_the_api_with_steps_logs_diff_and_backups(
    world: World,
    sshd: Any,
    ha_sim: Any,
    start_service: Callable[..., ServiceProcess],
) -> None:
    side = await ReadSide.start(world, start_service)
    first = await deploy_base(world, sshd, ha_sim)
    await world.push({"automations.yaml": "[]\n"})
    second = world.remote.head()
    await world.wait_terminal("ha", 2)
    dry_id = str(uuid7())
    await world.publish(
        DeployRequested(
            deployment_id=dry_id, target="ha", repo="home/config", trigger="manual", dry_run=True
        )
    )
    await world.wait_terminal("ha", 3)
    assert first != second

    async with asyncio.timeout(20):
        while (await side.get("/api/v1/deployments"))["items"][0]["id"] != dry_id or (
            await side.get(f"/api/v1/deployments/{dry_id}")
        )["status"] != "succeeded":
            await asyncio.sleep(0.2)
    (target,) = (await side.get("/api/v1/targets"))["items"]
    assert target["name"] == "ha" and target["status"] == "green"
    assert target["current_commit"] == second  # the dry run changed nothing
    listed = (await side.get("/api/v1/deployments?target=ha"))["items"]
    assert [d["trigger"] for d in listed] == ["manual", "push", "push"]
    detail = await side.get(f"/api/v1/deployments/{listed[1]['id']}")
    assert detail["status"] == "succeeded" and detail["commit"] == second
    assert [s["type"] for s in detail["steps"]][-1] == "DeploymentSucceeded"
    assert "-- alias: Lights at dusk" in detail["diff"]
    assert any("wrote" in line["message"] for line in detail["logs"])
    backups = (await side.get("/api/v1/backups?target=ha"))["items"]
    assert len(backups) == 2
