"""Many simulated devices in one process, one loopback address, each on its own port."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hearth.demo.shelly.device import SimDevice
from hearth.demo.shelly.models import Model


def mac_for(index: int, base: int = 0xA0B0C0000000) -> str:
    return f"{base + index:012X}"


class Fleet:
    """``async with Fleet([PLUS_1PM] * 3) as fleet:`` starts every device on a free port."""

    def __init__(
        self, models: Sequence[Model], host: str = "127.0.0.1", first_mac: int = 1
    ) -> None:
        self.devices = [SimDevice(m, mac_for(first_mac + i), host) for i, m in enumerate(models)]

    async def __aenter__(self) -> Fleet:
        await asyncio.gather(*(d.start() for d in self.devices))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(d.stop() for d in self.devices))
