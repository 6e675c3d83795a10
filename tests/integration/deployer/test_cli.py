"""The ``hearth`` CLI against the real query API, with a real deployer behind it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import nats
import pytest

from tests.integration.deployer.harness import World
from tests.integration.deployer.test_deployments import deploy_base
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration

HEARTH = [sys.executable, "-m", "hearth.cli"]


@dataclass
class Cli:
    url: str
    tokens: dict[str, str]

    async def run(
        self, *args: str, token: str = "operator", url: str | None = None, timeout: float = 90
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "HEARTH_API_URL": url or self.url,
            "HEARTH_API_TOKEN": self.tokens.get(token, token),
            "XDG_CONFIG_HOME": "/nonexistent",
        }
        return await asyncio.to_thread(
            subprocess.run,
            [*HEARTH, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
async def cli(
    world: World, sshd: Any, ha_sim: Any, start_service: Callable[..., ServiceProcess]
) -> AsyncIterator[Cli]:
    api = start_service(
        "query-api", HEARTH_NATS_URL=world.nats_url, HEARTH_DATABASE_URL=world.database_url
    )
    api.wait_for("/readyz", 200)
    nc = await nats.connect(world.nats_url)
    tokens = {}
    for role in ("viewer", "operator"):
        reply = await nc.request(
            "hearth.cmd.query.CreateToken",
            json.dumps({"name": role, "role": role}).encode(),
            timeout=10,
        )
        tokens[role] = json.loads(reply.data)["token"]
    await nc.close()
    await deploy_base(world, sshd, ha_sim)
    yield Cli(f"http://127.0.0.1:{api.port}", tokens)


async def test_deploy_follows_to_the_end_and_says_so(cli: Cli, world: World) -> None:
    world.remote.commit({"automations.yaml": "[]\n"})
    world.remote.push()
    done = await cli.run("deploy", "ha")
    assert done.returncode == 0, done.stderr
    assert "> uploaded 1 files" in done.stderr
    assert "succeeded" in done.stderr

    dry = await cli.run("deploy", "ha", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    final = json.loads(dry.stdout)
    assert (final["status"], final["dry_run"]) == ("succeeded", True)

    listed = await cli.run("deployments", "--target", "ha", "--json", token="viewer")
    items = json.loads(listed.stdout)
    assert [d["trigger"] for d in items] == ["manual", "manual", "push"]
    table = await cli.run("deployments", token="viewer")
    assert "succeeded" in table.stdout and "dry run" in table.stdout

    lines = await cli.run("logs", items[1]["id"], token="viewer")
    assert "wrote 1 files" in lines.stdout


async def test_rollback_follows_and_a_rollback_that_worked_exits_0(
    cli: Cli, world: World, sshd: Any
) -> None:
    before = (sshd.remote_root / "automations.yaml").read_text()
    await world.push({"automations.yaml": "[]\n"})
    await world.wait_terminal("ha", 2)
    done = await cli.run("rollback", "ha", "--reason", "too quiet")
    assert done.returncode == 0, done.stderr
    assert "rolled_back" in done.stderr
    assert (sshd.remote_root / "automations.yaml").read_text() == before


async def test_events_tail_prints_events_as_they_happen(cli: Cli, world: World) -> None:
    env = {**os.environ, "HEARTH_API_URL": cli.url, "HEARTH_API_TOKEN": cli.tokens["viewer"]}
    tail = subprocess.Popen(
        [*HEARTH, "events", "tail", "--type", "DeploymentSucceeded", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Push only once the feed follows the stream: the tail shows what happens from then.
        assert tail.stdout is not None and tail.stderr is not None
        started = await asyncio.wait_for(asyncio.to_thread(tail.stderr.readline), 60)
        assert started.startswith(f"following events at {cli.url}")
        await world.push({"automations.yaml": "[]\n"})
        line = await asyncio.wait_for(asyncio.to_thread(tail.stdout.readline), 60)
        event = json.loads(line)
        assert event["type"] == "DeploymentSucceeded" and event["key"] == "ha"
    finally:
        tail.terminate()
        tail.wait()


async def test_bad_input_is_one_clear_line_and_exit_2(cli: Cli) -> None:
    unknown = await cli.run("deploy", "nope")
    assert unknown.returncode == 2
    assert "nope" in unknown.stderr and "HTTP 404" in unknown.stderr

    viewer = await cli.run("deploy", "ha", token="viewer")
    assert viewer.returncode == 2
    assert "needs the operator role" in viewer.stderr
    assert viewer.stderr.count("operator") == 1  # said once

    wrong = await cli.run("deployments", token="hth_not-a-token")
    assert wrong.returncode == 2
    assert "refused the token" in wrong.stderr and "hearth token create" in wrong.stderr

    down = await cli.run("deployments", url="http://127.0.0.1:9")
    assert down.returncode == 2
    assert "cannot reach the Hearth API at http://127.0.0.1:9" in down.stderr

    both = await cli.run("deploy", "ha", "--commit", "abc1234", "--branch", "main")
    assert both.returncode == 2 and "not both" in both.stderr
