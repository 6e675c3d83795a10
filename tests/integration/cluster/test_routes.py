"""A cluster's routes are authenticated: a server that reaches a route port without the
route password is refused, and so is never part of the cluster (it would see every
message, the secrets bucket's included). The same server with the password joins: the
refusal is the password's doing, not the test's setup."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from hearth.embedded.nats import ClusterMembership, EmbeddedNats, cluster_of
from hearth.embedded.process import free_port

pytestmark = pytest.mark.integration

PASSWORD = "route-secret-for-the-test"


def route_names(monitor_port: int) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/routez", timeout=5) as reply:
        routez = json.load(reply)
    return {route.get("remote_name", "") for route in routez.get("routes") or []}


def wait_for(check: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.parametrize("password", [None, "wrong"], ids=["no-password", "wrong-password"])
def test_a_server_without_the_route_password_cannot_join(
    tmp_path: Path, password: str | None
) -> None:
    members = cluster_of(
        tmp_path / "nats",
        [free_port() for _ in range(3)],
        [free_port() for _ in range(3)],
        route_password=PASSWORD,
    )
    first = members[0]
    first.monitor_port = free_port()
    assert first.cluster is not None
    seed = f"nats://127.0.0.1:{first.cluster.route_port}"
    try:
        for member in members:
            member.start()
        wait_for(lambda: route_names(first.monitor_port) >= {"hearth-1", "hearth-2"}, "formed")

        def joiner(name: str, given: str | None) -> EmbeddedNats:
            return EmbeddedNats(
                tmp_path / name,
                port=free_port(),
                server_name=name,
                cluster=ClusterMembership("hearth", free_port(), (seed,), given),
            )

        intruder = joiner("intruder", password)
        members.append(intruder)
        intruder.start()
        # The seed logs the refusal: evidence that the route was tried and turned away.
        wait_for(
            lambda: "Authorization Violation" in intruder.log_path.read_text(),
            "the seed refused the route",
        )
        assert "intruder" not in route_names(first.monitor_port)

        friend = joiner("friend", PASSWORD)
        members.append(friend)
        friend.start()
        wait_for(lambda: "friend" in route_names(first.monitor_port), "the friend joined")
        assert "intruder" not in route_names(first.monitor_port)
    finally:
        for member in members:
            member.kill()
