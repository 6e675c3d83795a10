"""``hearth up --cluster N``: N routed NATS servers on this machine instead of one.

Every node has JetStream and the same per-service users; the streams and KV buckets are
declared with 3 replicas once the servers have elected a meta leader, so any one node may
die without losing an acknowledged event. Node ``n`` listens for clients on
``--nats-port + n`` and for its routes on ``--nats-port + N + n``, its store under
``$HEARTH_DATA_DIR/nats/node-<n>``.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from hearth.cli.state import cli_command
from hearth.embedded.nats import EmbeddedNats, NatsUser, cluster_of
from hearth.embedded.process import EmbeddedServerError
from hearth_events.jetstream import declare_all, unavailable

#: How many servers store each stream and bucket on a cluster (JetStream's usual quorum).
CLUSTER_REPLICAS = 3
MIN_NODES, MAX_NODES = 3, 5
ELECTION_TIMEOUT_S = 60.0


def node_ports(nats_port: int, nodes: int) -> tuple[list[int], list[int]]:
    """Client ports ``nats_port`` … ``nats_port + N - 1``, then the N route ports."""
    return (
        [nats_port + n for n in range(nodes)],
        [nats_port + nodes + n for n in range(nodes)],
    )


def replicas_for(nodes: int) -> int:
    return 1 if nodes == 1 else min(nodes, CLUSTER_REPLICAS)


def layout_problem(nats_dir: Path, nodes: int) -> str | None:
    """Why this data dir cannot run ``nodes`` NATS servers, or None.

    A data dir keeps the layout it was first started with: the streams of a single server
    are not those of a cluster, and a relay's stored position would not match either."""
    marker = nats_dir / "cluster.json"
    before = json.loads(marker.read_text())["nodes"] if marker.exists() else None
    single = (nats_dir / "jetstream").exists()
    if nodes == 1 and before:
        return (
            f"this data dir ({nats_dir.parent}) runs a {before}-node NATS cluster; "
            f"start it with `{cli_command()} up --cluster {before}`, or use another HEARTH_DATA_DIR"
        )
    if nodes > 1 and single:
        return (
            f"this data dir ({nats_dir.parent}) runs a single NATS server; start it without "
            "--cluster, or use another HEARTH_DATA_DIR for the cluster"
        )
    if nodes > 1 and before not in (None, nodes):
        return (
            f"this data dir ({nats_dir.parent}) runs a {before}-node NATS cluster, not "
            f"{nodes}; start it with `--cluster {before}`, or use another HEARTH_DATA_DIR"
        )
    return None


def start_cluster(
    nats_dir: Path,
    nats_port: int,
    nodes: int,
    host: str,
    users: list[NatsUser],
    *,
    route_password: str,
) -> list[EmbeddedNats]:
    """Start every node (a failure stops the ones started: the caller gets the error)."""
    clients, routes = node_ports(nats_port, nodes)
    members = cluster_of(
        nats_dir, clients, routes, host=host, users=users, route_password=route_password
    )
    try:
        for member in members:
            member.start()
    except BaseException:
        for member in members:
            member.stop()
        raise
    (nats_dir / "cluster.json").write_text(json.dumps({"nodes": nodes}))
    return members


async def declare_replicated(js: Any, replicas: int, timeout: float = ELECTION_TIMEOUT_S) -> None:
    """Declare everything once the cluster answers JetStream requests (a fresh cluster
    elects its meta leader a few seconds after the servers are up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await declare_all(js, replicas=replicas)
            return
        except Exception as exc:  # a new cluster elects its meta leader first
            if not unavailable(exc) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.25)


class NodeKeeper:
    """Starts a cluster node again when it dies (a crash, an OOM kill, ``kill -9``): it
    rejoins with its store and catches up from the others. A node that fails to start is
    tried again every ``retry_s``."""

    def __init__(self, nodes: list[EmbeddedNats], retry_s: float = 5.0) -> None:
        self.nodes = nodes
        self.retry_s = retry_s
        self._next_try: dict[str, float] = {}

    def check(self) -> list[str]:
        """Restart the nodes that exited; returns what happened, for the console."""
        events = []
        for node in self.nodes:
            code = node.exit_code()
            if code is None and node.running:
                continue
            now = time.monotonic()
            if now < self._next_try.get(node.server_name, 0.0):
                continue
            if code is not None:
                events.append(f"NATS node {node.server_name} exited with {code}; restarting")
            try:
                node.start()
            except EmbeddedServerError as exc:
                self._next_try[node.server_name] = now + self.retry_s
                events.append(f"NATS node {node.server_name} did not start: {exc}")
                continue
            events.append(f"NATS node {node.server_name} restarted")
        return events
