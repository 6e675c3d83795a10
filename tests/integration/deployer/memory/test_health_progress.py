"""A health wait is never silent: a failing health command records progress (the host in
memory; the Home Assistant waits are one directory up)."""

from __future__ import annotations

import pytest

from hearth_deployer.remote import CommandResult
from tests.integration.deployer.harness import World, files_target
from tests.integration.deployer.test_health_progress import EVERY_ATTEMPT
from tests.support.memhost import MemoryBox

pytestmark = pytest.mark.integration


async def test_a_failing_health_command_records_progress(world: World, box: MemoryBox) -> None:
    box.memory.on(
        "test -f ready || { echo not ready >&2; exit 3; }", CommandResult(3, "", "not ready\n")
    )
    await world.start(timing=EVERY_ATTEMPT)
    target = files_target(
        box,
        "web",
        health_check="test -f ready || { echo not ready >&2; exit 3; }",
        health_timeout_s=1,
    )
    assert (await world.apply_targets(target))["ok"]
    await world.push({"site.conf": "x\n"})
    (done,) = await world.wait_terminal("web")
    deployment_id = done.data.deployment_id  # type: ignore[attr-defined]
    assert done.type in ("RollbackCompleted", "RollbackFailed")
    logs = await world.logs(deployment_id)
    assert any(
        line.startswith("waiting for the health check test -f ready")
        and line.endswith("last answer: exit 3: not ready")
        for line in logs
    ), logs
