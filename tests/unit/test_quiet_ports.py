"""Ports for servers a test kills and starts again are never ones the kernel hands out
for ``bind(0)`` or outgoing connections meanwhile (a cluster test found its NATS node's
port taken by another worker's server when it restarted it)."""

from __future__ import annotations

from pathlib import Path

from tests.support.ports import quiet_ports


def ephemeral_range() -> tuple[int, int]:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(low), int(high)


def test_quiet_ports_are_distinct_and_below_the_ephemeral_range() -> None:
    low, _ = ephemeral_range()
    ports = quiet_ports(6)
    assert len(set(ports)) == 6
    assert all(1024 < port < low for port in ports)
