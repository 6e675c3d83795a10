"""Simulated Gen1 devices for the device manager's tests: each on its own 127.0.0.N:80."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hearth.demo.shelly.gen1 import SimGen1Device
from hearth.demo.shelly.gen1_models import GEN1_MODELS

#: 127.0.0.N addresses these tests use (the fidelity tests use 41-44).
FIRST_HOST = 60


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def gen1_device(kind: str, n: int, *, muted: bool = False) -> AsyncIterator[SimGen1Device]:
    sim = SimGen1Device(GEN1_MODELS[kind], f"A0B0C0D1E0{n:02X}", f"127.0.0.{FIRST_HOST + n}")
    sim.coiot_muted = muted
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
