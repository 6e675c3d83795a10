"""A health wait is never silent: it records progress while it waits, and its failure
says what the service last answered."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hearth.embedded.process import free_port
from hearth_deployer.adapters.homeassistant import HomeAssistantClient, HomeAssistantError
from tests.integration.deployer.harness import FAST, World, ha_target
from tests.integration.deployer.test_deployments import BASE, CONFIGURATION

pytestmark = pytest.mark.integration

#: Progress at every attempt instead of every 10 s: the test waits for nothing extra.
EVERY_ATTEMPT = dataclasses.replace(FAST, progress_interval_s=0)
WAITING = "waiting for Home Assistant to answer GET /api/config with state RUNNING: attempt "


async def test_an_unhealthy_restart_records_progress_and_the_last_answer(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    await world.start(timing=EVERY_ATTEMPT)
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url, health_timeout_s=4))
    assert reply["ok"], reply
    await world.push(BASE)
    (first,) = await world.wait_terminal("ha")
    assert first.type == "DeploymentSucceeded"

    ha_sim.fails_to_start = lambda config: "broken" in (config / "automations.yaml").read_text()
    await world.push(
        {"automations.yaml": "# broken\n[]\n", "configuration.yaml": CONFIGURATION + "\n"}
    )  # configuration.yaml changed: a restart, not a reload
    _, done = await world.wait_terminal("ha", 2)
    deployment_id = done.data.deployment_id  # type: ignore[attr-defined]
    assert done.type == "RollbackCompleted", await world.logs(deployment_id)

    events = await world.deployment_events(deployment_id)
    failed_at = next(i for i, e in enumerate(events) if e.type == "HealthCheckFailed")
    waiting = [
        line.message
        for e in events[:failed_at]
        if e.type == "DeploymentLogged"
        for line in e.data.lines  # type: ignore[attr-defined]
        if line.message.startswith(WAITING)
    ]
    # recorded while waiting, before the failure, and numbered
    assert any(m.endswith(", last answer: HTTP 200 with state NOT_RUNNING") for m in waiting)
    assert len({m.split(": attempt ")[1].split(",")[0] for m in waiting}) >= 2, waiting
    detail = events[failed_at].data.detail  # type: ignore[attr-defined]
    assert detail.endswith("; last answer: HTTP 200 with state NOT_RUNNING"), detail
    assert "did not report RUNNING within 4s" in detail


async def test_waiting_on_a_closed_port_reports_connection_refused() -> None:
    client = HomeAssistantClient(f"http://127.0.0.1:{free_port()}", "t")
    told: list[tuple[int, str]] = []

    async def progress(attempt: int, answer: str) -> None:
        told.append((attempt, answer))

    with pytest.raises(HomeAssistantError, match=r"last answer: connection refused$"):
        await client.wait_running(
            0.3, after_restart=False, interval_s=0.05, progress_every_s=0, on_progress=progress
        )
    assert told[0] == (1, "connection refused")
    assert told == [(n, "connection refused") for n in range(1, len(told) + 1)]
