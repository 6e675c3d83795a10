"""Hearth on a real 3-node NATS cluster with two processes of every service, proven by
killing things in the middle of work.

Each round pushes a commit that fans out to three SSH targets (real sshd) through a signed
webhook, and at once a burst of webhooks for another repository through both gateways.
The moment one deployment has reached a state (seen in the stream, never a guessed time;
by round: started, backup taken), it kills -9 the NATS node that leads
``HEARTH_EVENTS``, the deployer instance running that deployment, and the first instance
of the gateway, the query API, the notifier and the device manager. Then:

- every webhook is accepted (the dead gateway's deliveries are sent again to the other);
- every deployment of the push ends with exactly one terminal event, and each host holds
  exactly the pushed tree after a success, else exactly the tree before;
- the survivors carry on: the next push deploys to all three targets.

At the end: every event is in the stream exactly once (no duplicate ids; each aggregate's
versions rising; no gaps: every event the deployer stored is there, in store order), one
``PushReceived`` per accepted delivery, and the query API's read models equal a rebuild.

CI runs one round; ``HEARTH_CLUSTER_ROUNDS=5`` runs more by hand (each round restarts what
the previous one killed, then kills again).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import hearth_deployer.domain  # noqa: F401  (the topics of the deployer's stored events)
from bench.fault_tools import digest, files_of, stored_event_ids
from hearth.embedded.nats import EmbeddedNats
from hearth_events import Envelope
from hearth_eventstore.store import HearthApplication, open_application
from tests.integration.cluster.harness import Cluster, Webhooks
from tests.integration.deployer.harness import TERMINAL, files_target
from tests.support.git import GitRemote, make_remote
from tests.support.github import sha
from tests.support.services import ServiceProcess
from tests.support.sshd import ClientKey, SshServer, cleanup, start_sshd

pytestmark = pytest.mark.integration

ROUNDS = int(os.environ.get("HEARTH_CLUSTER_ROUNDS", "1"))
TARGETS = 3
NOISE = 12  # webhooks for the other repository, per round
#: The state that sets off the kills, by round: a run has begun; its backup is taken (the
#: upload comes next). (Later states are often followed by every run's end before the
#: stream is read again: the fault bench kills at each step exactly instead.)
KILL_AT = ("DeploymentStarted", "BackupTaken")
ZERO = "0" * 40


@pytest.fixture
def sshds(tmp_path: Path) -> Iterator[list[SshServer]]:
    key = ClientKey.generate(tmp_path)
    servers = [start_sshd(key) for _ in range(TARGETS)]
    yield servers
    for server in servers:
        cleanup(server)


class Repo:
    """The followed repository: what its branch holds, and its head."""

    def __init__(self, remote: GitRemote) -> None:
        self.remote = remote
        self.files: dict[str, str] = {}
        self.head = ZERO

    def commit(self, files: dict[str, str]) -> tuple[str, str]:
        self.files.update(files)
        self.remote.commit(dict(files), message=f"{len(files)} files")
        before, self.head = self.head, self.remote.push()
        return before, self.head


def of_commit(events: list[Envelope], commit: str) -> list[str]:
    """The deployment ids requested for ``commit``."""
    return [
        e.data.deployment_id  # type: ignore[attr-defined]
        for e in events
        if e.type == "DeployRequested" and e.data.commit == commit  # type: ignore[attr-defined]
    ]


def terminals(events: list[Envelope], deployment_ids: list[str]) -> dict[str, list[Envelope]]:
    found: dict[str, list[Envelope]] = {d: [] for d in deployment_ids}
    for e in events:
        deployment_id = getattr(e.data, "deployment_id", None)
        if e.type in TERMINAL and deployment_id in found:
            found[deployment_id].append(e)
    return found


async def deploy(
    cluster: Cluster, hooks: Webhooks, repo: Repo, files: dict[str, str], via: int
) -> tuple[str, str]:
    before, after = repo.commit(files)
    await hooks.push("home/config", before, after, sorted(files), via)
    return before, after


async def until_terminal(cluster: Cluster, commit: str) -> dict[str, list[Envelope]]:
    def done(events: list[Envelope]) -> bool:
        ids = of_commit(events, commit)
        return len(ids) == TARGETS and all(terminals(events, ids).values())

    events = await cluster.wait_events(done, f"every deployment of {commit[:8]} terminal")
    return terminals(events, of_commit(events, commit))


def hosts(sshds: list[SshServer]) -> list[dict[str, str]]:
    return [files_of(server.remote_root) for server in sshds]


async def chaos_round(
    cluster: Cluster, hooks: Webhooks, repo: Repo, sshds: list[SshServer], n: int
) -> list[str]:
    """Push, kill mid-flight, judge the push; a later push deploys. Returns what died."""
    previous = dict(repo.files)
    retried = hooks.retried
    change = {f"site/page-{p:02}.txt": f"round {n} page {p}\n" for p in range(0, 30, 3)}
    change[f"site/new-{n}.txt"] = f"added in round {n}\n"
    _, after = await deploy(cluster, hooks, repo, change, via=n)
    noise = asyncio.gather(
        *(
            hooks.push("home/noise", sha(f"{n}-{i}"), sha(f"{n}-{i + 1}"), ["x.txt"], via=i)
            for i in range(NOISE)
        )
    )

    moment = KILL_AT[n % len(KILL_AT)]

    def reached(events: list[Envelope]) -> bool:
        ids = set(of_commit(events, after))
        return any(e.type == moment and e.data.deployment_id in ids for e in events)  # type: ignore[attr-defined]

    events = await cluster.wait_events(reached, f"a deployment of the push reached {moment}")
    ids = set(of_commit(events, after))
    first = next(
        e
        for e in events
        if e.type == moment and e.data.deployment_id in ids  # type: ignore[attr-defined]
    )
    deployer = first.source.split("/")[1].removesuffix("-cluster")
    in_flight = [d for d, ends in terminals(events, list(ids)).items() if not ends]
    assert in_flight, "the kill must land while deployments run"
    leader = await cluster.events_leader()
    leader.kill()
    killed = [deployer, "webhook-gw", "query-api", "notifier", "device-manager"]
    for label in killed:
        cluster.kill(label)
    await noise

    outcome = await until_terminal(cluster, after)
    now = hosts(sshds)
    for deployment_id, ends in outcome.items():
        assert len(ends) == 1, (deployment_id, [e.type for e in ends])
    # Each host holds one whole tree: the push's after a success, else the one before.
    by_target = {e[0].key: e[0].type for e in outcome.values()}
    for index, host in enumerate(now):
        wanted = repo.files if by_target[f"box-{index}"] == "DeploymentSucceeded" else previous
        assert host == digest(wanted), (f"box-{index}", by_target)

    sources = defaultdict(set)
    for e in await cluster.events():
        if getattr(e.data, "deployment_id", None) in ids and e.source.startswith("deployer/"):
            sources[e.data.deployment_id].add(e.source)  # type: ignore[attr-defined]
    print(
        f"round {n}, at {moment}: killed {leader.server_name} (events leader), {deployer} "
        f"and the first gateway, query API, notifier, device manager with "
        f"{len(in_flight)} of {TARGETS} deployments in flight; "
        f"{sum(len(v) > 1 for v in sources.values())} carried on by the other deployer; "
        f"outcomes {sorted(by_target.values())}; "
        f"{hooks.retried - retried} webhook sends retried on the other gateway"
    )

    # The survivors carry on: the next push deploys everywhere.
    _, later = await deploy(cluster, hooks, repo, {"later.txt": f"after round {n}\n"}, via=0)
    outcome = await until_terminal(cluster, later)
    assert {e[0].type for e in outcome.values()} == {"DeploymentSucceeded"}, outcome
    assert hosts(sshds) == [digest(repo.files)] * TARGETS
    return [leader.server_name, *killed]


async def restart(cluster: Cluster, killed: list[str]) -> None:
    for node in cluster.nodes:
        if not node.running:
            node.start()
    for label in killed[1:]:
        name, _, number = label.rpartition("-")
        service = cluster.start(name, int(number)) if number.isdigit() else cluster.start(label, 1)
        service.wait_for("/readyz", 200, timeout=120)


def judge_stream(events: list[Envelope], accepted: list[str], stored: list[str]) -> None:
    ids = [str(e.event_id) for e in events]
    assert len(ids) == len(set(ids)), Counter(ids).most_common(3)
    deliveries = Counter(
        e.data.delivery_id  # type: ignore[attr-defined]
        for e in events
        if e.type == "PushReceived"
    )
    assert {d: deliveries.get(d, 0) for d in accepted} == dict.fromkeys(accepted, 1)
    versions: dict[str, list[int]] = defaultdict(list)
    for e in events:
        if e.aggregate_id is not None and e.aggregate_version is not None:
            versions[str(e.aggregate_id)].append(e.aggregate_version)
    for aggregate, seen in versions.items():  # internal records are not published
        assert seen == sorted(set(seen)), (aggregate, seen)
    # No gaps: every event the deployer stored for publishing is there, in store order.
    position = {event_id: n for n, event_id in enumerate(ids)}
    assert [s for s in stored if s not in position] == [], "stored, never streamed"
    assert [position[s] for s in stored] == sorted(position[s] for s in stored)


@pytest.mark.timeout(120 + 90 * ROUNDS)  # a round takes under a minute here
async def test_kill_a_node_and_one_of_each_service_while_deploying(
    tmp_path: Path,
    nodes: list[EmbeddedNats],
    sshds: list[SshServer],
    database_url: str,
    start_service: Callable[..., ServiceProcess],
) -> None:
    cluster = Cluster(nodes, database_url, tmp_path, start_service)
    await cluster.open()
    try:
        await cluster.secrets(sshds[0].client_key.read_text())
        repo = Repo(make_remote(tmp_path / "git", "home"))
        await cluster.register("home/config", repo.remote)
        await cluster.register("home/noise", make_remote(tmp_path / "git", "noise"))
        await asyncio.to_thread(cluster.start_all)
        specs = [files_target(s, f"box-{n}") for n, s in enumerate(sshds)]
        reply = await cluster.command("hearth.cmd.target.ApplyTargets", {"targets": specs})
        assert reply.get("ok"), reply
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            gateways = [cluster.services["webhook-gw"], cluster.services["webhook-gw-2"]]
            hooks = Webhooks(http, gateways)
            first = {f"site/page-{p:02}.txt": f"v0 {p}\n" for p in range(30)}
            _, after = await deploy(cluster, hooks, repo, first, via=0)
            outcome = await until_terminal(cluster, after)
            assert {e[0].type for e in outcome.values()} == {"DeploymentSucceeded"}
            for n in range(ROUNDS):
                killed = await chaos_round(cluster, hooks, repo, sshds, n)
                if n < ROUNDS - 1:
                    await restart(cluster, killed)
                    hooks.gateways = [cluster.services["webhook-gw"], gateways[1]]
            await judge(cluster, hooks)
    finally:
        await cluster.close()


async def judge(cluster: Cluster, hooks: Webhooks) -> None:
    store: Any = await asyncio.to_thread(
        open_application, HearthApplication, cluster.database_url, "deployer"
    )
    stored, _ = await asyncio.to_thread(stored_event_ids, store, 0)
    events = await cluster.wait_events(
        lambda found: {str(e.event_id) for e in found} >= set(stored), "every stored event"
    )
    judge_stream(events, hooks.accepted, stored)
    # Then everything but the query API stops, so that no event arrives between the read
    # models' snapshot and their rebuild (a late log batch made them differ in CI).
    for label, service in list(cluster.services.items()):
        if not label.startswith("query-api") and service.process.poll() is None:
            await asyncio.to_thread(service.terminate)
    last = len(await cluster.events())

    def caught_up(_: list[Envelope]) -> bool:
        return cluster.projected_position() >= last

    await cluster.wait_events(caught_up, "the read models caught up with the stream")
    live = await asyncio.to_thread(cluster.read_models)
    reply = await cluster.command("hearth.cmd.query.RebuildProjections", {"actor": "test"})
    assert reply.get("ok", True), reply
    rebuilt = await asyncio.to_thread(cluster.read_models)
    if rebuilt != live:
        pytest.fail(differing_rows(live, rebuilt), pytrace=False)


def differing_rows(live: dict[str, list[Any]], rebuilt: dict[str, list[Any]]) -> str:
    """Only the rows that differ, by table: the whole read models bury them (CI shows the
    end of a failure's output)."""
    lines = []
    for table in sorted(set(live) | set(rebuilt)):
        before = Counter(map(repr, live.get(table, [])))
        after = Counter(map(repr, rebuilt.get(table, [])))
        lines += [f"{table}: only live {row}" for row in sorted(before - after)]
        lines += [f"{table}: only rebuilt {row}" for row in sorted(after - before)]
    return "the read models differ from a rebuild:\n" + "\n".join(lines)
