"""A service started while its NATS cluster has no JetStream quorum waits for it.

A cluster that is forming, or has lost two of three nodes for a moment (a rolling restart,
a power cut that brings the servers back in any order), answers JetStream requests with
"no responders", "temporarily unavailable" or not at all. Every service started then logs
that it waits and becomes ready once the cluster is whole again; none of them exits. Before
this, the first JetStream request at start failed the process (CI saw a gateway exit with
"ServiceUnavailableError" right after the cluster was declared).

Both ways a service meets the bus are tried: with its own NATS user (the admin declared
everything; each service's first JetStream requests are its own reads), every service; and
on a bus without users, where a service declares what it uses first, the same for all of
them (``ensure`` at start), so one service shows it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats, cluster_of
from hearth.stack.cluster import declare_replicated
from tests.integration.cluster.harness import PAIRED, Cluster
from tests.support.bus_users import password, server_users
from tests.support.ports import quiet_ports
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration

WAITING = '"event":"jetstream unavailable, retrying"'
#: What a service's background loops log when a JetStream request fails (they retry anyway).
OUTAGE = ("ServiceUnavailableError", "TimeoutError")
#: The services that read JetStream before they are ready (a bus without users adds the
#: declarations to every service's start).
STARTS_WITH_JETSTREAM = {"deployer", "webhook-gw", "notifier"}


@pytest.fixture(params=["service users", "no users"])
def secured(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "service users")


@pytest.fixture
def cluster_nodes(tmp_path: Path, secured: bool) -> Iterator[list[EmbeddedNats]]:
    users = server_users()
    members = cluster_of(
        tmp_path / "nats",
        quiet_ports(3),
        quiet_ports(3),
        users=users if secured else None,
    )
    for member in members:
        member.start()
    yield members
    for member in members:
        member.kill()


def wait_until_it_met_the_outage(service: ServiceProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(sign in service.output() for sign in (WAITING, *OUTAGE)):
        assert service.process.poll() is None, f"exited:\n{service.output()}"
        assert time.monotonic() < deadline, f"never met the outage:\n{service.output()}"
        time.sleep(0.2)


@pytest.mark.timeout(240)
async def test_every_service_waits_for_a_cluster_without_quorum_and_then_starts(
    tmp_path: Path,
    cluster_nodes: list[EmbeddedNats],
    secured: bool,
    database_url: str,
    start_service: Callable[..., ServiceProcess],
) -> None:
    cluster = Cluster(cluster_nodes, database_url, tmp_path, start_service)
    credentials = {"user": "admin", "password": password("admin")} if secured else {}
    admin = await nats.connect([node.url for node in cluster_nodes], **credentials)
    await declare_replicated(admin.jetstream(timeout=10), 3)
    await admin.close()
    for node in cluster_nodes[1:]:
        node.kill()  # one of three left: no leader for anything

    names = PAIRED if secured else ("webhook-gw",)
    services = [
        cluster.start(
            name,
            1,
            **(
                {"HEARTH_NATS_USER": name, "HEARTH_NATS_PASSWORD": password(name)}
                if secured
                else {}
            ),
        )
        for name in names
    ]
    for service in services:
        await asyncio.to_thread(wait_until_it_met_the_outage, service)
    waited = [s for s in services if WAITING in s.output()]
    # Each service whose start needs JetStream waits, not ready; the others carry on with
    # their loops retrying. None has exited.
    assert {names[services.index(s)] for s in waited} == (
        STARTS_WITH_JETSTREAM if secured else set(names)
    )
    for service in services:
        assert service.process.poll() is None, service.output()
    for service in waited:
        code, _ = service.get("/readyz")
        assert code == 503, service.output()

    for node in cluster_nodes[1:]:
        node.start()
    for service in services:
        await asyncio.to_thread(service.wait_for, "/readyz", 200, 120)
