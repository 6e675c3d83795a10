"""A service stopped while NATS is unreachable closes its connection instead of leaving a
client that reconnects forever (a real NATS, stopped under it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings

pytestmark = pytest.mark.integration


class Idle(BusService):
    name: ClassVar[str] = "notifier"


async def test_a_service_stopped_while_nats_is_down_closes_its_client(
    nats_factory: Callable[..., EmbeddedNats], tmp_path: Path
) -> None:
    server = nats_factory()
    settings = ServiceSettings(
        nats_url=server.url, data_dir=tmp_path, instance="idle", shutdown_grace_s=1
    )
    service = Idle(settings, ServiceMetrics("notifier"))
    await service.start()
    server.kill()
    async with asyncio.timeout(10):
        while not service.nc.is_reconnecting:
            await asyncio.sleep(0.05)
    await service.stop()
    assert service.nc.is_closed
