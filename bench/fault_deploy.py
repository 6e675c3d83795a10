"""Deployer trials: a real deployer process SIGKILLs itself at a deploy or rollback point,
a clean one recovers, and the trial is judged.

One sshd, one ``files`` target and one Git repository serve every trial; each trial is a
new deployment (a push of a few changed, added or removed files) or, for the points of a
restore run, a ``RollbackRequested``. The target's ``post_deploy`` fails while a file
named ``broken`` is present, so a push that adds it is unhealthy and rolled back: that is
how the rollback points are reached. After each trial:

- the deployment has exactly one terminal event;
- every event the deployer stored is in the stream exactly once, in store order;
- the host holds one whole tree, the one the terminal event says: the pushed tree after
  ``DeploymentSucceeded``, the tree before the trial after a failure, a cancel or a
  completed rollback (a restore run: the tree its newest backup holds);
- the target's lease is released (not merely lapsed: that is reported as an other
  failure).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError

from bench.fault_tools import (
    StreamTail,
    Trial,
    digest,
    files_of,
    order_ok,
    stored_event_ids,
    wait_until,
    when_up,
)
from bench.warm import ForkServer, fork_server
from hearth_deployer.adapters.lease import lease_key
from hearth_events import Envelope
from hearth_events.catalogue import RollbackRequested
from hearth_events.ids import uuid7
from hearth_events.jetstream import LOCK_TTL_S, LOCKS_BUCKET
from hearth_eventstore.store import HearthApplication, open_application
from hearth_servicekit.faults import FAULT_ENV, POINTS, READY_ENV
from tests.integration.deployer.harness import TERMINAL, World, files_target
from tests.support.git import make_remote
from tests.support.sshd import ClientKey, SshServer, cleanup, start_sshd

TARGET = "box"
BROKEN = "broken"
DEPLOY_POINTS = POINTS["deploy"] + POINTS["rollback"]
#: Reached only when the new files are unhealthy (a rollback follows).
UNHEALTHY = {"deploy.health_check_failed", *POINTS["rollback"]} - {
    "rollback.safety_backed_up",
    "rollback.restore_begun",
}
#: Reached only by a restore run (``hearth rollback``).
RESTORE = {"rollback.safety_backed_up", "rollback.restore_begun"}
PAGES = 30
TIMEOUT_S = 90.0


@dataclass
class DeployBench:
    world: World
    sshd: SshServer
    pool: ForkServer
    tail: StreamTail
    store: HearthApplication
    work: Path
    repo: dict[str, str] = field(default_factory=dict)  # what the branch holds
    position: int = 0  # the deployer store's last notification judged
    previous: dict[str, str] = field(default_factory=dict)  # the host before the last trial

    def host(self) -> dict[str, str]:
        return files_of(self.sshd.remote_root)

    async def close(self) -> None:
        self.pool.close()
        await self.world.nc.close()
        cleanup(self.sshd)


async def open_deploy_bench(nats_url: str, dsn: str, work: Path) -> DeployBench:
    work.mkdir(parents=True, exist_ok=True)
    sshd = start_sshd(ClientKey.generate(work))
    world = World(nats_url, dsn, work / "data", make_remote(work / "git", "home"))
    await world.open()
    await world.secret("ssh-key", sshd.client_key.read_text())
    await world.repository()
    pool = fork_server(
        "hearth_deployer",
        work,
        "deployer-faults",
        HEARTH_NATS_URL=nats_url,
        HEARTH_DATABASE_URL=dsn,
    )
    first = pool.start({})
    spec = files_target(sshd, TARGET, post_deploy=[f"test ! -e {BROKEN}"])
    reply = await when_up(lambda: world.apply_targets(spec))
    assert reply.get("ok"), reply
    tail = await StreamTail.at_end(world.js)
    bench = DeployBench(world, sshd, pool, tail, _deployer_store(dsn), work)
    files: dict[str, str | None] = {f"site/page-{n:02}.txt": f"v0 {n}\n" for n in range(PAGES)}
    await _push(bench, files)
    found = await _terminal_of(bench, 0, None)
    assert found is not None and found.type == "DeploymentSucceeded", found
    first.stop()
    _, bench.position = await asyncio.to_thread(stored_event_ids, bench.store, 0)
    await bench.tail.read()
    return bench


def _deployer_store(dsn: str) -> HearthApplication:
    import hearth_deployer.domain  # noqa: F401  (the topics of the stored events)

    return open_application(HearthApplication, dsn, "deployer")


async def _push(bench: DeployBench, files: dict[str, str | None]) -> None:
    for path, content in files.items():
        if content is None:
            bench.repo.pop(path, None)
        else:
            bench.repo[path] = content
    await bench.world.push(files)


def _changes(bench: DeployBench, rng: random.Random, n: int, unhealthy: bool) -> dict[str, Any]:
    files: dict[str, str | None] = {}
    pages = sorted(p for p in bench.repo if p.startswith("site/"))
    for path in rng.sample(pages, rng.randint(1, 4)):
        files[path] = f"{path} v{n}\n"
    if len(pages) > 5 and rng.random() < 0.5:
        files[rng.choice(pages)] = None  # removed
    if rng.random() < 0.5:
        files[f"site/new-{n:04}.txt"] = f"new in trial {n}\n"
    files[BROKEN] = "1\n" if unhealthy else None
    if not unhealthy and BROKEN not in bench.repo:
        del files[BROKEN]
    return files


async def _terminal_of(bench: DeployBench, start: int, deployment_id: str | None) -> Any:
    found: list[Envelope] = []

    async def terminal() -> bool:
        found[:] = [
            e
            for e in (await bench.tail.read())[start:]
            if e.type in TERMINAL and e.key == TARGET
            if deployment_id is None or getattr(e.data, "deployment_id", None) == deployment_id
        ]
        return bool(found)

    return found[0] if await wait_until(terminal, TIMEOUT_S) else None


async def _lease_released(bench: DeployBench) -> bool:
    kv = await bench.world.js.key_value(LOCKS_BUCKET)
    try:
        entry = await kv.get(lease_key(TARGET))
    except NotFoundError:
        return True
    return not entry.value


async def deploy_trial(bench: DeployBench, n: int, point: str, rng: random.Random) -> Trial:
    began = time.monotonic()
    before = bench.host()
    start = len(await bench.tail.read())
    marker = bench.work / f"marker-{n}"
    armed = bench.pool.start({FAULT_ENV: f"{point}:kill", READY_ENV: str(marker)})
    deployment_id: str | None = None
    if point in RESTORE:
        deployment_id = str(uuid7())
        wanted = [before, bench.previous]  # its newest backup: one of them
        await bench.world.publish(
            RollbackRequested(deployment_id=deployment_id, target=TARGET, reason="bench"),
            actor="bench",
        )
    else:
        await _push(bench, _changes(bench, rng, n, point in UNHEALTHY))
        wanted = [digest(bench.repo), before]
    code = await asyncio.to_thread(armed.wait, TIMEOUT_S)
    hit = (
        code == -signal.SIGKILL
        and marker.exists()
        and marker.read_text() == f"{point} kill {armed.pid}\n"
    )
    armed.stop()
    clean = bench.pool.start({})
    try:
        return await _judge(bench, point, hit, start, deployment_id, before, wanted, began)
    finally:
        clean.stop()
        bench.previous = before


async def _judge(
    bench: DeployBench,
    point: str,
    hit: bool,
    start: int,
    deployment_id: str | None,
    before: dict[str, str],
    wanted: list[dict[str, str]],
    began: float,
) -> Trial:
    component = point.split(".", maxsplit=1)[0]
    other: list[str] = []
    done = await _terminal_of(bench, start, deployment_id)
    if done is None:
        return Trial(component, point, hit, other=("no terminal event",), seconds=_since(began))
    deployment_id = done.data.deployment_id
    stored, last = await asyncio.to_thread(stored_event_ids, bench.store, bench.position)
    bench.position = last

    async def relayed() -> bool:
        seen = {str(e.event_id) for e in await bench.tail.read()}
        return all(event_id in seen for event_id in stored)

    await wait_until(relayed, 30)
    events = bench.tail.since(start)
    mine = set(stored)
    streamed = [str(e.event_id) for e in events if str(e.event_id) in mine]
    lost = len(mine - set(streamed))
    duplicated = len(streamed) - len(set(streamed))
    if not order_ok(stored, streamed):
        other.append("out of store order")
    terminals = [
        e
        for e in events
        if e.type in TERMINAL and getattr(e.data, "deployment_id", None) == deployment_id
    ]
    if len({str(e.event_id) for e in terminals}) != 1:
        other.append(f"{len(terminals)} terminal events")
    host = bench.host()
    half = 0
    if host not in wanted:
        half = 1  # neither the old tree nor the new one: a mix
    elif done.type == "DeploymentSucceeded" and host != wanted[0]:
        other.append("succeeded, but the host holds the old tree")
    elif done.type in {"DeploymentFailed", "DeploymentCancelled"} and host != before:
        other.append(f"{done.type}, but the host holds the new tree")
    elif done.type == "RollbackFailed":
        other.append("rollback failed")
    # The clean instance ends the run and releases the lease well inside its TTL; a lease
    # that goes only when the TTL ran out was not released.
    if not await wait_until(lambda: _lease_released(bench), LOCK_TTL_S / 2):
        if not await wait_until(lambda: _lease_released(bench), LOCK_TTL_S):
            other.append("lease still held after its TTL")
        else:
            other.append("lease lapsed (not released)")
    return Trial(component, point, hit, lost, duplicated, half, tuple(other), _since(began))


def _since(began: float) -> float:
    return time.monotonic() - began
