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
    api: ServiceProcess

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
    yield Cli(f"http://127.0.0.1:{api.port}", tokens, api)


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


def table_rows(text: str) -> list[list[str]]:
    """The cells of each row of a rich table."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in text.splitlines()
        if line.startswith("│")
    ]


async def test_ids_are_shown_short_and_taken_back_by_unique_prefix(cli: Cli, world: World) -> None:
    # Manual deployments get UUIDv7 ids: made seconds apart, they share a long prefix.
    for _ in range(2):
        assert (await cli.run("deploy", "ha", "--dry-run")).returncode == 0
    listed = json.loads((await cli.run("deployments", "--json", token="viewer")).stdout)
    full = [d["id"] for d in listed]
    table = await cli.run("deployments", token="viewer")
    shown = [row[0] for row in table_rows(table.stdout) if row[0]]
    assert len(shown) == len(full) == 3
    for short, whole in zip(shown, full, strict=True):
        assert whole.startswith(short) and len(short) >= 8 and "…" not in short
        lines = await cli.run("logs", short, token="viewer")
        assert lines.returncode == 0, lines.stderr
        assert lines.stdout == (await cli.run("logs", whole, token="viewer")).stdout

    common = full[0][: next(n for n, (a, b) in enumerate(zip(*full[:2], strict=True)) if a != b)]
    assert len(common) >= 4
    ambiguous = await cli.run("logs", common, token="viewer")
    assert ambiguous.returncode == 2
    assert ambiguous.stderr.count("\n") == 1 and "matches 2 deployment ids" in ambiguous.stderr
    assert shown[0] in ambiguous.stderr and shown[1] in ambiguous.stderr

    tiny = await cli.run("logs", "abc", token="viewer")
    assert tiny.returncode == 2 and "at least 4 characters" in tiny.stderr
    unknown = await cli.run("logs", "ffffffff", token="viewer")
    assert unknown.returncode == 2 and "no deployment id starts with 'ffffffff'" in unknown.stderr

    finished = await cli.run("cancel", shown[0])
    assert finished.returncode == 2
    assert f"deployment {full[0]} is succeeded" in finished.stderr


async def test_rollback_to_a_backup_by_prefix(cli: Cli, world: World, sshd: Any) -> None:
    before = (sshd.remote_root / "automations.yaml").read_text()
    await world.push({"automations.yaml": "[]\n"})
    await world.wait_terminal("ha", 2)
    await world.push({"automations.yaml": "[1]\n"})
    await world.wait_terminal("ha", 3)
    backups = await fetch_json(f"{cli.url}/api/v1/backups?target=ha", cli.tokens["viewer"])
    # Newest first: before "[1]", before "[]" (the base, which the default would not pick),
    # before the base (the empty host).
    middle = backups["items"][1]["backup_id"]
    prefix = middle[: next(n for n in range(4, len(middle)) if unique(middle[:n], backups))]
    done = await cli.run("rollback", "ha", "--to", prefix)
    assert done.returncode == 0, done.stderr
    assert (sshd.remote_root / "automations.yaml").read_text() == before


def unique(prefix: str, backups: dict[str, Any]) -> bool:
    return [b["backup_id"].startswith(prefix) for b in backups["items"]].count(True) == 1


async def fetch_json(url: str, token: str) -> Any:
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})

    def get() -> Any:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read())

    return await asyncio.to_thread(get)


async def test_deployments_refuses_an_unknown_target_or_status(cli: Cli) -> None:
    nope = await cli.run("deployments", "--target", "nope", token="viewer")
    assert nope.returncode == 2
    assert nope.stdout == "" and nope.stderr.count("\n") == 1
    assert "no target named 'nope'" in nope.stderr

    bogus = await cli.run("deployments", "--status", "bogus", token="viewer")
    assert bogus.returncode == 2 and bogus.stdout == ""
    assert "'bogus' is not one of" in bogus.stderr and "rolled_back" in bogus.stderr

    failed = await cli.run("deployments", "--status", "failed", "--target", "ha", "--json")
    assert failed.returncode == 0 and json.loads(failed.stdout) == []


async def test_targets_lists_each_target_and_what_it_runs(cli: Cli, world: World) -> None:
    listed = await cli.run("targets", "--json", token="viewer")
    assert listed.returncode == 0, listed.stderr
    (ha,) = json.loads(listed.stdout)
    assert ha["name"] == "ha" and ha["last_status"] == "succeeded"

    table = await cli.run("targets", token="viewer")
    (row,) = table_rows(table.stdout)[:1]
    name, kind, host, status, commit, last = row[:6]
    assert (name, kind, host, status) == ("ha", ha["kind"], ha["host"], "green")
    assert commit == ha["current_commit"][:12]
    shown_id = last.split()[0]
    assert ha["last_deployment_id"].startswith(shown_id) and "succeeded" in last

    show = await cli.run("targets", "show", "ha", token="viewer")
    assert show.returncode == 0 and ha["current_commit"] in show.stdout
    missing = await cli.run("targets", "show", "nope", token="viewer")
    assert missing.returncode == 2 and "no target named 'nope'" in missing.stderr


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


async def test_events_tail_exits_2_when_the_api_goes_away(cli: Cli) -> None:
    env = {**os.environ, "HEARTH_API_URL": cli.url, "HEARTH_API_TOKEN": cli.tokens["viewer"]}
    tail = subprocess.Popen(
        [*HEARTH, "events", "tail", "--reconnect-for", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stderr is not None
        started = await asyncio.wait_for(asyncio.to_thread(tail.stderr.readline), 60)
        assert started.startswith(f"following events at {cli.url}")
        cli.api.process.kill()  # gone at once, as after a crash or a power cut
        cli.api.process.wait()
        code = await asyncio.wait_for(asyncio.to_thread(tail.wait), 60)
        said = tail.stderr.read().splitlines()
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
    assert code == 2
    assert said[0].startswith(f"lost the feed at {cli.url}")
    assert said[-1].startswith(f"hearth: lost the Hearth API at {cli.url}")
    assert "could not reconnect for 2s" in said[-1]


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
