"""Ports for servers a test kills and starts again are never ones the kernel hands out
for ``bind(0)`` or outgoing connections meanwhile (a cluster test found its NATS node's
port taken by another worker's server when it restarted it)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.support import ports
from tests.support.ports import quiet_ports


def ephemeral_range() -> tuple[int, int]:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(low), int(high)


def test_quiet_ports_are_distinct_and_below_the_ephemeral_range() -> None:
    low, _ = ephemeral_range()
    ports = quiet_ports(6)
    assert len(set(ports)) == 6
    assert all(1024 < port < low for port in ports)


def test_a_quiet_port_is_never_handed_out_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """A killed node's port is free while it is down: the services its test starts
    meanwhile must not be given it."""
    monkeypatch.setattr(ports, "QUIET_RANGE", (20000, 20009))
    monkeypatch.setattr(ports, "_handed_out", set())
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert sorted(quiet_ports(10)) == list(range(20000, 20010))


def test_each_worker_picks_from_a_share_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    shares = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        shares.append(ports.worker_range())
    assert shares[0][0] == ports.QUIET_RANGE[0] and shares[2][1] <= ports.QUIET_RANGE[1]
    assert all(a[1] < b[0] for a, b in itertools.pairwise(shares))
