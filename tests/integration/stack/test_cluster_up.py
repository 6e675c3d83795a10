"""``hearth up --cluster 3``: three routed NATS servers holding every stream and bucket on
all three, two instances of each service (one provisioner), the demo's push deployed, a
NATS node and a deployer killed and started again (the node rejoins and holds its
replicas again), and Ctrl-C stopping all of it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import psutil
import pytest

from hearth.stack.layout import DataDir, nats_servers
from tests.support.stack import Up, free_ports

pytestmark = pytest.mark.integration

INSTANCES = {
    "query-api",
    "query-api-2",
    "webhook-gw",
    "webhook-gw-2",
    "deployer",
    "deployer-2",
    "device-manager",
    "device-manager-2",
    "provisioner",
    "notifier",
    "notifier-2",
}


async def replicas(data_dir: Path, url: str) -> dict[str, tuple[int, int]]:
    """Each stream's configured replicas and how many servers currently hold it."""
    passwords = DataDir(data_dir).bus_passwords()
    nc = await nats.connect(
        nats_servers(url), user="admin", password=passwords["admin"], inbox_prefix="_INBOX_admin"
    )
    try:
        found = {}
        for name in ("HEARTH_EVENTS", "HEARTH_TASKS", "KV_hearth_locks", "KV_hearth_secrets"):
            info = await elected(nc, name)
            assert info.cluster is not None
            held = 1 + len([r for r in info.cluster.replicas or [] if not r.offline])
            found[name] = (info.config.num_replicas or 1, held)
        return found
    finally:
        await nc.close()


async def elected(nc: Any, name: str) -> Any:
    """The stream's info once it has a leader (after a node died, the stream elects a new
    one; meanwhile JetStream requests time out or answer without a leader)."""
    async with asyncio.timeout(60):
        while True:
            with contextlib.suppress(nats.errors.Error):
                info = await nc.jetstream(timeout=2).stream_info(name)
                if info.cluster is not None and info.cluster.leader:
                    return info
            await asyncio.sleep(0.2)


def wait_for(condition: Callable[[], bool], what: str, up: Up, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert up.process.poll() is None, up.output()
        assert time.monotonic() < deadline, f"{what}\n{up.output()}"
        time.sleep(0.3)


async def test_up_on_a_cluster_runs_two_of_each_and_survives_a_node(
    tmp_path: Path, runs: list[Up]
) -> None:
    data_dir = tmp_path / "data"
    up = Up(data_dir, free_ports(nats_block=6), args=("--cluster", "3"))
    runs.append(up)
    report = up.wait_healthy()
    assert set(report["services"]) == INSTANCES
    urls = nats_servers(report["nats"]["url"])
    assert len(urls) == 3
    assert await replicas(data_dir, report["nats"]["url"]) == dict.fromkeys(
        ("HEARTH_EVENTS", "HEARTH_TASKS", "KV_hearth_locks", "KV_hearth_secrets"), (3, 3)
    )
    up.wait_output(r"admin token +hth_")
    host = data_dir / "demo" / "host" / "homeassistant" / "configuration.yaml"
    wait_for(host.exists, "the demo's repository never reached its host", up)

    # kill -9 a NATS node and the first deployer: the supervisor restarts the deployer, the
    # services reconnect to the nodes left, and the stack is healthy again on two nodes.
    state = DataDir(data_dir).read_state()
    assert state is not None and len(state["nats_pids"]) == 3
    killed = state["nats_pids"][0]
    os.kill(killed, signal.SIGKILL)
    os.killpg(state["pids"]["deployer"], signal.SIGKILL)
    up.wait_output(r"NATS node hearth-0 exited with -9; restarting")
    up.wait_output(r"deployer exited with -9")
    up.wait_output(r"NATS node hearth-0 restarted")
    up.wait_output(r"deployer restarted")
    up.wait_healthy()
    # The node rejoined: every stream is on three servers again.
    deadline = time.monotonic() + 60
    while (held := await replicas(data_dir, report["nats"]["url"])) != dict.fromkeys(held, (3, 3)):
        assert time.monotonic() < deadline, held
        await asyncio.sleep(0.5)
    state = DataDir(data_dir).read_state()
    assert state is not None and state["nats_pids"][0] != killed

    noted = {p.pid for p in up.family()}
    assert up.ctrl_c() == 0, up.output()
    assert "stopped in" in up.output()
    assert up.survivors() == [], up.survivors()
    assert not [p for p in noted if psutil.pid_exists(p)]


async def test_a_data_dir_keeps_its_layout(tmp_path: Path) -> None:
    """A data dir made by a single server is refused a cluster (and the other way round):
    one line says how to start it instead."""
    data_dir = tmp_path / "data"
    (data_dir / "nats" / "jetstream").mkdir(parents=True)
    up = Up(data_dir, free_ports(nats_block=6), args=("--cluster", "3"))
    code = await asyncio.to_thread(up.process.wait, 60)
    assert code != 0
    assert "runs a single NATS server; start it without --cluster" in up.output()
