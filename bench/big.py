"""A big Home Assistant configuration over real sshd, beside ``tar | ssh`` in the same run.

The tree is generated and deterministic: ``files`` files of which most are small YAML
(automations, packages) and ``binaries`` are images and sounds (seeded random bytes) that
together weigh about ``megabytes`` MB — the shape of a real, published configuration.

- **first deployment**: the target is declared after the configuration was pushed (its
  repository is mirrored and its tree prepared in the background, timed on its own); then
  a signed push webhook, until the files are live (``FilesDeployed``) and until
  ``DeploymentSucceeded``; then ``firsts - 1`` more times onto the emptied host (a push
  changing one file, so the whole tree is uploaded again). Baseline: ``tar -c | ssh tar
  -x`` of the same tree into an empty directory on the same sshd, as many times.
- **one-file change**: ``repeats`` pushes that each change one automation, each measured
  from the webhook POST to the moment the file is live on the host (``FilesDeployed``:
  Home Assistant's own check and reload are excluded), and to ``DeploymentSucceeded``
  (with the simulator's check_config, reload and health check). Baseline: ``tar | ssh``
  of the whole tree, ``repeats`` times (what a script without a plan would do).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.deploy import (
    CHANGED,
    WEBHOOK_SECRET,
    Outcomes,
    Timing,
    automation,
    ha_tree,
    percentiles,
    start_gateway,
    stop_process,
    stop_servers,
)
from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import free_port
from hearth_events import parse_event
from hearth_events.catalogue import RepositoryRegistered, RepositorySpec
from tests.integration.deployer.harness import World, ha_target
from tests.support.git import git, make_remote
from tests.support.github import ZERO, delivery_headers, encode, push_payload
from tests.support.ha_sim import HomeAssistantSim
from tests.support.sshd import ClientKey, SshServer, start_sshd

BIG = "bench/big"


def big_tree(files: int, binaries: int, megabytes: int) -> dict[str, bytes]:
    """``files`` files: ``binaries`` of them images and sounds weighing ``megabytes`` MB."""
    tree = {path: text.encode() for path, text in ha_tree(files - binaries).items()}
    rng = random.Random(9)
    weights = [rng.uniform(0.2, 1.8) for _ in range(binaries)]
    total = megabytes * 1024 * 1024
    for n, weight in enumerate(weights):
        size = max(1, int(total * weight / sum(weights)))
        kind, suffix = ("images", "jpg") if n % 3 else ("sounds", "mp3")
        tree[f"www/{kind}/{kind[:-1]}-{n:03}.{suffix}"] = random.Random(n).randbytes(size)
    return tree


def write_tree(root: Path, tree: dict[str, bytes]) -> None:
    for path, content in tree.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)


def tar_ssh(server: SshServer, source: Path, dest: str) -> float:
    """``tar -c | ssh 'mkdir; tar -x'``: one stream over one new SSH connection."""
    ssh = [
        "ssh", "-p", str(server.port), "-i", str(server.client_key),
        "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        f"{server.user}@{server.host}", f"mkdir -p {dest} && tar -C {dest} -xf -",
    ]  # fmt: skip
    started = time.perf_counter()
    with subprocess.Popen(["tar", "-C", str(source), "-cf", "-", "."], stdout=subprocess.PIPE) as t:
        subprocess.run(ssh, stdin=t.stdout, check=True)
    if t.returncode != 0:
        raise RuntimeError("tar failed")
    return time.perf_counter() - started


@dataclass
class Landed:
    """When each delivery's files were live on the host (``FilesDeployed`` arrived)."""

    at: dict[str, float] = field(default_factory=dict)

    async def on_message(self, msg: Any) -> None:
        envelope = parse_event(msg.data)
        if envelope.type == "FilesDeployed":
            self.at.setdefault(envelope.correlation_id, time.perf_counter())


def empty(root: Path) -> None:
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


async def run_big(
    files: int = 700, binaries: int = 100, megabytes: int = 300, repeats: int = 10, firsts: int = 3
) -> list[Timing]:
    """Both measurements on private NATS, PostgreSQL, sshd and webhook-gw, all removed."""
    if repeats < 1 or firsts < 1 or binaries >= files - 5:
        raise ValueError("repeats and firsts must be at least 1 and most files must be YAML")
    stack = contextlib.AsyncExitStack()
    try:
        return await _measure(stack, files, binaries, megabytes, (repeats, firsts))
    finally:
        await stack.aclose()


async def _push(
    world: World, http: aiohttp.ClientSession, port: int, outcomes: Outcomes, before: str
) -> tuple[str, str, float, float]:
    """Push what is committed, POST its webhook; (commit, delivery, POST time, seconds to
    success)."""
    deployer = world.deployers[0]
    assert deployer.dispatcher is not None
    await deployer.dispatcher.idle.wait()
    after = world.remote.push()
    kind = "added" if before == ZERO else "modified"
    body = encode(
        push_payload(
            BIG,
            before=before,
            after=after,
            files={"added": [], "modified": [], "removed": [], kind: [CHANGED]},
        )
    )
    headers = delivery_headers("push", body, WEBHOOK_SECRET.encode())
    started = time.perf_counter()
    async with http.post(f"http://127.0.0.1:{port}/webhooks/github", data=body, headers=headers):
        pass
    delivery = headers["X-GitHub-Delivery"]
    done = await outcomes.wait(delivery, ["ha"])
    return after, delivery, started, done - started


async def _measure(
    stack: contextlib.AsyncExitStack,
    files: int,
    binaries: int,
    megabytes: int,
    counts: tuple[int, int],
) -> list[Timing]:
    repeats, firsts = counts
    tree = big_tree(files, binaries, megabytes)
    tree_bytes = sum(len(c) for c in tree.values())
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-big-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    nats_server = EmbeddedNats(workdir / "nats", port=free_port())
    nats_server.start()
    stack.callback(nats_server.stop)
    postgres = EmbeddedPostgres(workdir / "pg", port=free_port())
    postgres.start()
    stack.callback(postgres.stop, mode="immediate")
    key = ClientKey.generate(workdir)
    servers: list[SshServer] = []
    stack.callback(stop_servers, servers)
    server = start_sshd(key)
    servers.append(server)
    ha = HomeAssistantSim(config_dir=server.remote_root)
    await ha.start()
    stack.push_async_callback(ha.stop)

    remote = make_remote(workdir / "git", "big")
    local = workdir / "local"
    write_tree(local, tree)
    write_tree(remote.work, tree)
    git(remote.work, "add", "-A")
    git(remote.work, "commit", "-q", "-m", f"{files} files")

    world = World(nats_server.url, postgres.dsn(), workdir / "data", remote)
    await world.open()
    stack.push_async_callback(world.close)
    await world.secret("ssh-key", key.path.read_text())
    await world.secret("ha-token", ha.token)
    await world.secret("webhook", WEBHOOK_SECRET, "webhook-gw")
    spec = RepositorySpec(name=BIG, url=remote.url, webhook_secret="webhook")
    await world.publish(RepositoryRegistered(repo=BIG, spec=spec), "hearth apply")
    gateway, port = await start_gateway(nats_server.url, workdir)
    stack.callback(stop_process, gateway)
    deployer = await world.start()
    outcomes, landed = Outcomes(), Landed()
    await world.nc.subscribe("hearth.evt.deploy.>", cb=outcomes.on_message)
    await world.nc.subscribe("hearth.evt.deploy.>", cb=landed.on_message)
    http = await stack.enter_async_context(aiohttp.ClientSession())
    # The configuration exists before Hearth is told about it (as in real life): declaring
    # the target mirrors the repository and prepares its head's tree in the background.
    remote.push()
    started = time.perf_counter()
    reply = await world.apply_targets(ha_target(server, ha.url, repo=BIG, health_timeout_s=60))
    assert reply["ok"], reply
    await asyncio.gather(*deployer.preparing)
    prepared = time.perf_counter() - started

    # The first deployment, then `firsts - 1` more onto the emptied host (each a push
    # changing one file: the whole tree is uploaded again), beside as many tar | ssh.
    head, delivery, posted, first = await _push(world, http, port, outcomes, ZERO)
    first_live, first_ok = [landed.at[delivery] - posted], [first]
    for again in range(1, firsts):
        empty(server.remote_root)
        remote.commit({CHANGED: automation(0, 1000 + again)}, message=f"again {again}")
        head, delivery, posted, seconds = await _push(world, http, port, outcomes, head)
        first_live.append(landed.at[delivery] - posted)
        first_ok.append(seconds)
    first_tars = [
        await asyncio.to_thread(tar_ssh, server, local, f"{server.workdir}/tar-first-{n}")
        for n in range(firsts)
    ]
    fl50, fl95 = percentiles(first_live)
    fo50, fo95 = percentiles(first_ok)
    ft50, ft95 = percentiles(first_tars)

    to_live: list[float] = []
    to_success: list[float] = []
    for revision in range(1, repeats + 1):
        content = automation(0, revision)
        remote.commit({CHANGED: content}, message=f"change {revision}")
        head, delivery, posted, seconds = await _push(world, http, port, outcomes, head)
        to_success.append(seconds)
        to_live.append(landed.at[delivery] - posted)
        assert (server.remote_root / CHANGED).read_text() == content
    copies = [
        await asyncio.to_thread(tar_ssh, server, local, f"{server.workdir}/tar-{n}")
        for n in range(repeats)
    ]
    live50, live95 = percentiles(to_live)
    ok50, ok95 = percentiles(to_success)
    tar50, tar95 = percentiles(copies)
    shape = f"{files} files, {tree_bytes / 1e6:,.0f} MB ({binaries} images and sounds)"
    return [
        Timing("first deployment", "hearth: target declared → repository mirrored, tree "
               "prepared", prepared, None, "in the background after `hearth apply`"),
        Timing("first deployment", "hearth: webhook → files live on the host", fl50, fl95,
               f"{shape}; {firsts} times onto an empty host; {fl50 / ft50:.1f} times "
               "tar | ssh"),
        Timing("first deployment", "hearth: webhook → live and healthy (simulator)", fo50,
               fo95, "with check_config of the whole tree, restart and health check"),
        Timing("first deployment", "baseline: tar | ssh of the same tree", ft50, ft95,
               f"{firsts} copies; one new SSH connection each, no fsync, no checks"),
        Timing("one-file change", "hearth: webhook → file live on the host", live50, live95,
               f"{repeats} pushes; Home Assistant's check and reload excluded"),
        Timing("one-file change", "hearth: webhook → live and healthy (simulator)", ok50, ok95,
               "with check_config, reload of automations and health check"),
        Timing("one-file change", "baseline: tar | ssh of the whole tree", tar50, tar95,
               f"{repeats} copies of {tree_bytes:,} bytes"),
    ]  # fmt: skip
