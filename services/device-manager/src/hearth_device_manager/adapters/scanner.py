"""The CIDR scan: ``GET /shelly`` on every address of some networks, a bounded number at
a time. Real devices answer on port 80; tests scan the simulator's ports of 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from ipaddress import ip_network

from hearth_device_manager.adapters.ports import Prober
from hearth_device_manager.domain.device import Found

#: A /16 is 65,534 addresses: more is a typo, not a home network.
MAX_ADDRESSES = 65_536


class ScanRefused(ValueError):
    pass


def addresses(cidrs: list[str]) -> Iterator[str]:
    total = 0
    networks = []
    for cidr in cidrs:
        try:
            network = ip_network(cidr.strip(), strict=False)
        except ValueError:
            raise ScanRefused(f"not a network or address: {cidr!r}") from None
        total += network.num_addresses
        networks.append(network)
    if total > MAX_ADDRESSES:
        raise ScanRefused(f"{total} addresses to scan; at most {MAX_ADDRESSES}")
    for network in networks:
        hosts = list(network.hosts()) or [network.network_address]
        for host in hosts:
            yield str(host)


async def scan(
    prober: Prober, cidrs: list[str], ports: list[int], *, concurrency: int = 64
) -> list[Found]:
    """Every device answering on the networks, in address order."""
    targets = [(host, port) for host in addresses(cidrs) for port in ports]
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(host: str, port: int) -> Found | None:
        async with gate:
            return await prober.probe(host, port)

    found = await asyncio.gather(*(one(h, p) for h, p in targets))
    return [f for f in found if f is not None]
