"""A deployment's log: stored in as few events as a person watching allows (the host in
memory). A quick deployment's lines go with the event that ends it; a line still waits at
most ``log_held_s``; a warning does not wait at all."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from hearth_events import Envelope
from tests.integration.deployer.harness import FAST, World, files_target
from tests.support.memhost import MemoryBox

pytestmark = pytest.mark.integration

SLOW = "./reload-the-service"


def _lines(event: Envelope) -> list[str]:
    return [line.message for line in event.data.lines]  # type: ignore[attr-defined]


async def _deploy(world: World, box: MemoryBox, **spec: object) -> str:
    assert (await world.apply_targets(files_target(box, "web", **spec)))["ok"]
    await world.push({"site.conf": "listen 80\n"})
    (started,) = await world.wait_for("web", {"DeploymentStarted"})
    deployment_id: str = started.data.deployment_id  # type: ignore[attr-defined]
    return deployment_id


async def test_a_quick_deployment_stores_its_whole_log_in_one_event_before_its_ending(
    world: World, box: MemoryBox
) -> None:
    await world.start(timing=dataclasses.replace(FAST, log_held_s=600))
    deployment_id = await _deploy(world, box)
    (done,) = await world.wait_terminal("web")
    assert done.type == "DeploymentSucceeded"

    events = await world.deployment_events(deployment_id)
    logged = [e for e in events if e.type == "DeploymentLogged"]
    assert len(logged) == 1, [_lines(e) for e in logged]
    types = [e.type for e in events]
    # Stored with the ending, in its one write: before the check it passed and the success.
    assert types[-3:] == ["DeploymentLogged", "HealthCheckPassed", "DeploymentSucceeded"]
    steps = {line.step for line in logged[0].data.lines}  # type: ignore[attr-defined]
    assert {"fetch", "plan", "upload"} <= steps, steps
    assert any("fetched" in line for line in _lines(logged[0]))


async def test_a_line_waits_for_a_slow_step_no_longer_than_log_held_s(
    world: World, box: MemoryBox
) -> None:
    box.memory.on(SLOW, 0, delay=30)  # long past the hold: the test never waits for it
    await world.start(timing=dataclasses.replace(FAST, log_held_s=0.05))
    deployment_id = await _deploy(world, box, post_deploy=[SLOW])

    async with asyncio.timeout(20):
        while True:
            events = await world.deployment_events(deployment_id)
            if any(e.type == "DeploymentLogged" and f"$ {SLOW}" in _lines(e) for e in events):
                break
            await asyncio.sleep(0.1)
    # The command still runs: its line was stored on its own, not with the step's event.
    assert "ServiceRestarted" not in [e.type for e in events]


async def test_a_warning_is_stored_with_its_step_s_event(world: World, box: MemoryBox) -> None:
    await world.start(timing=dataclasses.replace(FAST, log_held_s=600))
    await _deploy(world, box)
    await world.wait_terminal("web")
    box.write("site.conf", "changed behind Hearth's back\n")
    await world.push({"other.conf": "x\n"})
    _, done = await world.wait_terminal("web", 2)
    deployment_id = done.data.deployment_id  # type: ignore[attr-defined]

    events = await world.deployment_events(deployment_id)
    at = [e.type for e in events].index("DeploymentPlanned")
    assert events[at - 1].type == "DeploymentLogged"
    assert any(line.startswith("drift: 1 file(s)") for line in _lines(events[at - 1]))
