"""Push to live over real sshd, beside naive ``scp -r`` of the same files in the same run.

- one target: a full first deployment of a tree, then a one-file change (delta);
- fan-out: one push to ``fan_out`` targets, each its own sshd.

Hearth's time includes what scp skips: fetch from Git, validation, the remote manifest,
a verified backup, atomic renames, and events stored and relayed at every step.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import free_port
from tests.integration.deployer.harness import World
from tests.support.git import make_remote
from tests.support.sshd import ClientKey, SshServer, cleanup, start_sshd


@dataclass(frozen=True)
class Timing:
    benchmark: str
    what: str
    seconds: float


def files_target(name: str, server: SshServer, subdirectory: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "kind": "files",
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "key_secret": "ssh-key",
        "known_host_key": server.host_key_line,
        "remote_path": str(server.remote_root),
        "repo": "bench/config",
        "subdirectory": subdirectory,
    }


def tree(count: int, size: int, prefix: str = "conf") -> dict[str, str | None]:
    return {f"{prefix}/file-{n:04}.yaml": f"n: {n}\nbody: {'x' * size}\n" for n in range(count)}


def scp(server: SshServer, source: Path, dest: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            "scp", "-q", "-r", "-P", str(server.port), "-i", str(server.client_key),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            str(source), f"{server.user}@{server.host}:{dest}",
        ],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started


async def timed_push(world: World, files: dict[str, str | None], targets: int, done: int) -> float:
    started = time.perf_counter()
    await world.push(files, repo="bench/config")
    found = 0
    while found < done:
        events = await world.events()
        found = sum(e.type == "DeploymentSucceeded" for e in events)
        failed = [e for e in events if e.type in {"DeploymentFailed", "RollbackCompleted"}]
        if failed:
            raise RuntimeError(f"a benchmark deployment failed: {failed[0].data}")
        await asyncio.sleep(0.02)
    del targets
    return time.perf_counter() - started


async def run_deploy(files: int = 200, fan_out: int = 20) -> list[Timing]:
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-deploy-"))
    nats_server = EmbeddedNats(workdir / "nats", port=free_port())
    postgres = EmbeddedPostgres(workdir / "pg", port=free_port())
    nats_server.start()
    postgres.start()
    key = ClientKey.generate(workdir)
    servers = [start_sshd(key) for _ in range(fan_out)]
    world = World(nats_server.url, postgres.dsn(), workdir / "data", make_remote(workdir / "git"))
    try:
        await world.open()
        await world.secret("ssh-key", key.path.read_text())
        await world.repository("bench/config")
        await world.start()
        one = servers[0]
        reply = await world.apply_targets(files_target("one", one, "conf"))
        assert reply["ok"], reply
        first = tree(files, 2000)
        full = await timed_push(world, first, 1, 1)
        delta = await timed_push(world, {"conf/file-0000.yaml": "n: changed\n"}, 1, 2)

        local = workdir / "local" / "conf"
        local.mkdir(parents=True)
        for path, content in first.items():
            (local.parent / path).write_text(content or "")
        scp_full = await asyncio.to_thread(scp, one, local, f"{one.workdir}/scp-copy")
        scp_one = await asyncio.to_thread(
            scp, one, local / "file-0000.yaml", f"{one.workdir}/scp-one.yaml"
        )

        specs = [files_target(f"fan-{n:02}", s, "fan") for n, s in enumerate(servers)]
        reply = await world.apply_targets(*specs, prune=False)
        assert reply["ok"], reply
        fan_files = tree(20, 2000, prefix="fan")
        fan = await timed_push(world, fan_files, fan_out, 2 + fan_out)
        fan_local = workdir / "local" / "fan"
        fan_local.mkdir()
        for path, content in fan_files.items():
            (fan_local.parent / path).write_text(content or "")
        started = time.perf_counter()
        await asyncio.gather(
            *(asyncio.to_thread(scp, s, fan_local, f"{s.workdir}/scp-fan") for s in servers)
        )
        scp_fan = time.perf_counter() - started
        return [
            Timing("push to live", f"baseline: scp -r of {files} files", scp_full),
            Timing("push to live", f"hearth: first deployment of {files} files", full),
            Timing("push to live", "baseline: scp of 1 file", scp_one),
            Timing("push to live", f"hearth: 1 changed file in {files} (delta)", delta),
            Timing("fan-out", f"baseline: {fan_out} scp -r in parallel", scp_fan),
            Timing("fan-out", f"hearth: 1 push to {fan_out} targets, all live", fan),
        ]
    finally:
        await world.close()
        for server in servers:
            cleanup(server)
        nats_server.stop()
        postgres.stop(mode="immediate")
