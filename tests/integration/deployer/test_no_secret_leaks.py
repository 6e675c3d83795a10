"""Nothing secret in an event, a log, a table or an API answer: a deployment whose health
check fails once while printing every secret the deployer decrypted (the repository token,
the Home Assistant token, the SSH private key; the deployer logs "still waiting" with the
check's output), one whose post-deploy command fails printing them and its environment,
then a grep of
every JetStream message, every table of the database (event store and read models), the
deployer's and the query API's logs, and the API's answers for the canaries."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.workflows.context import Timing
from hearth_events.catalogue import RepositoryRegistered, RepositorySpec
from tests.integration.deployer.harness import World, files_target, ha_target
from tests.integration.deployer.read_side import ReadSide
from tests.integration.deployer.test_deployments import BASE
from tests.support.leaks import file_texts, hits, key_lines, logs_to, stream_texts, table_texts
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration

REPO_TOKEN = "canary-repo-token-5b1d0e7f"
HA_TOKEN = "canary-ha-token-9c4e2a11"
#: Every failing health-check attempt is logged (and recorded) as "still waiting".
LOUD = Timing(health_interval_s=0.1, restart_settle_s=1.0, progress_interval_s=0.0)
FAILS_ONCE_PRINTING = "test -e ../healthy || { touch ../healthy; cat ../canaries.txt >&2; exit 1; }"
TERMINAL_STATUSES = {"succeeded", "failed", "rolled_back", "rollback_failed", "cancelled"}


async def test_a_failing_post_deploy_that_prints_every_secret_leaks_none(
    world: World,
    sshd: Any,
    ha_sim: Any,
    start_service: Callable[..., ServiceProcess],
    tmp_path: Path,
) -> None:
    ha_sim.token = HA_TOKEN
    await world.secret("ha-token", HA_TOKEN)
    await world.secret("repo-token", REPO_TOKEN)
    private_key = sshd.client_key.read_text()
    canaries = [REPO_TOKEN, HA_TOKEN, *key_lines(private_key)]
    # What the post-deploy command prints: it lives on the host, never in a declaration.
    workdir = sshd.remote_root.parent
    (workdir / "canaries.txt").write_text(f"{REPO_TOKEN}\n{HA_TOKEN}\n{private_key}")
    box = workdir / "box"
    box.mkdir()
    spec = RepositorySpec(name="home/leaky", url=world.remote.url, token_secret="repo-token")
    await world.publish(RepositoryRegistered(repo="home/leaky", spec=spec), actor="hearth apply")

    side = await ReadSide.start(world, start_service)
    with logs_to(tmp_path / "deployer.log", "deployer") as deployer_log:
        await world.start(timing=LOUD)
        refused = await world.apply_targets(
            ha_target(sshd, ha_sim.url.replace("://", f"://hass:{HA_TOKEN}@"))
        )
        assert refused["ok"] is False and "ha_token_secret" in refused["error"]
        assert HA_TOKEN not in refused["error"]
        reply = await world.apply_targets(
            ha_target(sshd, ha_sim.url, health_check=FAILS_ONCE_PRINTING),
            files_target(
                sshd,
                "box",
                remote_path=str(box),
                repo="home/leaky",
                post_deploy=[
                    "cat ../canaries.txt; env; cat ../canaries.txt >&2; "
                    'echo "token: $(head -n1 ../canaries.txt)" >&2; exit 3'
                ],
            ),
        )
        assert reply["ok"], reply
        await world.push(BASE)  # home/config: the Home Assistant target, its token used
        (ha_done,) = await world.wait_terminal("ha")
        assert ha_done.type == "DeploymentSucceeded"
        await world.push({"box.txt": "hello\n"}, repo="home/leaky")
        (box_done,) = await world.wait_terminal("box", timeout=60)
        box_id = box_done.data.deployment_id  # type: ignore[attr-defined]
        assert box_done.type in ("RollbackCompleted", "RollbackFailed", "DeploymentFailed")
        printed = "\n".join(await world.logs(box_id))
        answers = await api_answers(side, box_id, ha_done.data.deployment_id)  # type: ignore[attr-defined]
        await world.stop(world.deployers[0])

    surfaces = {
        **await stream_texts(world.js),
        **table_texts(world.database_url),
        **file_texts([deployer_log, side.api.log]),
        **answers,
    }
    assert any(k.startswith("HEARTH_EVENTS:") for k in surfaces)
    assert any(k.startswith("query_api.") for k in surfaces)
    assert hits(surfaces, canaries) == []
    assert "***" in printed  # the command's output was recorded, its secrets masked
    assert "waiting for health" in deployer_log.read_text()  # the check's output was logged


async def api_answers(side: ReadSide, *deployment_ids: str) -> dict[str, str]:
    """Once the read side has projected the deployments: every answer a viewer can read."""
    for deployment_id in deployment_ids:
        await side.until(
            f"/api/v1/deployments/{deployment_id}",
            lambda answer: answer.get("status") in TERMINAL_STATUSES,
        )
    paths = [
        "/api/v1/targets",
        "/api/v1/targets/box",
        "/api/v1/targets/ha",
        "/api/v1/deployments",
        "/api/v1/deployments/stats",
        "/api/v1/backups",
        "/api/v1/pushes",
        "/api/v1/events?limit=200",
        "/api/v1/events?logs=true&limit=200",
        *(f"/api/v1/deployments/{d}" for d in deployment_ids),
    ]
    return {f"GET {path}": json.dumps(await side.get(path)) for path in paths}
