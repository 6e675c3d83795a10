"""A target declared after the push it should deploy: its declaration deploys the newest
push of its branch, as the very deployment the push would have asked for. Before, such a
target waited for the next push (a second host added to hearth.yaml deployed nothing)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hearth_deployer.handlers import push_deployment_id
from hearth_events.jetstream import CONSUMERS, EVENTS_STREAM
from tests.integration.deployer.harness import World, ha_target
from tests.integration.deployer.test_deployments import AUTOMATIONS, BASE
from tests.support.memhost import MemoryBox

pytestmark = pytest.mark.integration


async def consumer_idle(world: World) -> None:
    """The deployer's consumer has taken in every push so far (and acted on none)."""
    async with asyncio.timeout(20):
        while True:
            info = await world.js.consumer_info(EVENTS_STREAM, CONSUMERS["deployer"].name)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return
            await asyncio.sleep(0.05)


async def test_a_target_declared_after_its_push_deploys_that_push(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    await world.push({"automations.yaml": "[]\n"})  # an older push, before the deployer
    commit, push = await world.push(BASE)
    await world.start()  # it learns both pushes from the stream
    await consumer_idle(world)  # both passed over: no target yet

    reply = await world.apply_targets(ha_target(box, ha_sim.url))
    assert reply["deploying"] == [{"target": "ha", "commit": commit}], reply
    (done,) = await world.wait_terminal("ha")
    assert done.type == "DeploymentSucceeded", await world.logs(done.data.deployment_id)  # type: ignore[attr-defined]
    assert done.data.commit == commit  # type: ignore[attr-defined]
    assert done.data.deployment_id == push_deployment_id(str(push.event_id), "ha")  # type: ignore[attr-defined]
    for path, content in BASE.items():
        assert (box.remote_root / path).read_text() == content
    requested = [e for e in await world.events("ha") if e.type == "DeployRequested"]
    assert len(requested) == 1 and requested[0].causation_id == str(push.event_id)

    # The push handled again by the consumer (a redelivery, or read after the target
    # existed) asks for the same deployment, which is there already.
    handlers = world.deployers[0].handlers
    assert handlers is not None
    await handlers.handle(push)
    # Declared again unchanged, or changed where its content does not come from: no deployment.
    reply = await world.apply_targets(ha_target(box, ha_sim.url))
    assert reply["changes"] == [] and "deploying" not in reply
    reply = await world.apply_targets(ha_target(box, ha_sim.url, health_timeout_s=20))
    assert reply["deploying"] == [], reply
    assert len(await world.wait_terminal("ha")) == 1
    assert [e.type for e in await world.events("ha")].count("DeployRequested") == 1


async def test_a_target_moved_to_another_branch_deploys_that_branchs_newest_push(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    await world.start()
    await world.apply_targets(ha_target(box, ha_sim.url))
    await world.push(BASE)
    (first,) = await world.wait_terminal("ha")
    assert first.type == "DeploymentSucceeded"
    staging = {**BASE, "automations.yaml": AUTOMATIONS.replace("dusk", "night")}
    commit, _ = await world.push(staging, branch="staging")
    await consumer_idle(world)
    assert len(await world.wait_terminal("ha")) == 1  # staging feeds no target yet

    reply = await world.apply_targets(ha_target(box, ha_sim.url, branch="staging"))
    assert reply["deploying"] == [{"target": "ha", "commit": commit}], reply
    _, second = await world.wait_terminal("ha", 2)
    assert second.type == "DeploymentSucceeded"
    assert "night" in (box.remote_root / "automations.yaml").read_text()


async def test_a_declaration_deploys_nothing_where_nothing_was_pushed_or_it_waits_for_ci(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    await world.start()
    reply = await world.apply_targets(ha_target(box, ha_sim.url))
    assert reply["deploying"] == [], reply  # no push of main yet
    await world.push(BASE, branch="other")
    await consumer_idle(world)
    gated = ha_target(box, ha_sim.url, require_ci=True, remote_path=str(box.remote_root / "b"))
    manual = ha_target(box, ha_sim.url, auto_deploy=False, branch="other")
    reply = await world.apply_targets(
        ha_target(box, ha_sim.url), gated | {"name": "gated"}, manual | {"name": "manual"}
    )
    assert sorted(c["name"] for c in reply["changes"]) == ["gated", "manual"]
    assert reply["deploying"] == [], reply
    await consumer_idle(world)
    assert [e.type for e in await world.events() if e.type == "DeployRequested"] == []
