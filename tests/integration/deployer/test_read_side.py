"""Real deployments, projected by the real query API: what the dashboard and CLI read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import nats
import pytest

from hearth_events.catalogue import DeployRequested
from hearth_events.ids import uuid7
from tests.integration.deployer.harness import World
from tests.integration.deployer.test_deployments import deploy_base
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration


async def test_deployments_reach_the_api_with_steps_logs_diff_and_backups(
    world: World,
    sshd: Any,
    ha_sim: Any,
    start_service: Callable[..., ServiceProcess],
) -> None:
    api = start_service(
        "query-api", HEARTH_NATS_URL=world.nats_url, HEARTH_DATABASE_URL=world.database_url
    )
    api.wait_for("/readyz", 200)
    nc = await nats.connect(world.nats_url)
    reply = await nc.request(
        "hearth.cmd.query.CreateToken",
        json.dumps({"name": "viewer", "role": "viewer"}).encode(),
        timeout=10,
    )
    token = json.loads(reply.data)["token"]
    await nc.close()
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

    def get(path: str) -> Any:
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{api.port}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    async with asyncio.timeout(20):
        while (await asyncio.to_thread(get, "/api/v1/deployments"))["items"][0]["id"] != dry_id or (
            await asyncio.to_thread(get, f"/api/v1/deployments/{dry_id}")
        )["status"] != "succeeded":
            await asyncio.sleep(0.2)
    (target,) = (await asyncio.to_thread(get, "/api/v1/targets"))["items"]
    assert target["name"] == "ha" and target["status"] == "green"
    assert target["current_commit"] == second  # the dry run changed nothing
    listed = (await asyncio.to_thread(get, "/api/v1/deployments?target=ha"))["items"]
    assert [d["trigger"] for d in listed] == ["manual", "push", "push"]
    detail = await asyncio.to_thread(get, f"/api/v1/deployments/{listed[1]['id']}")
    assert detail["status"] == "succeeded" and detail["commit"] == second
    assert [s["type"] for s in detail["steps"]][-1] == "DeploymentSucceeded"
    assert "-- alias: Lights at dusk" in detail["diff"]
    assert any("wrote" in line["message"] for line in detail["logs"])
    backups = (await asyncio.to_thread(get, "/api/v1/backups?target=ha"))["items"]
    assert len(backups) == 2
