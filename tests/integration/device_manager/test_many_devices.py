"""More devices than aiohttp's default connection pool holds (100) all stay connected.

Each Gen2+ device keeps one WebSocket open for its whole life, so the device manager's HTTP
session must not cap connections: its own semaphores bound how many connect at once.
"""

from __future__ import annotations

import asyncio
import json

from nats.js.errors import KeyNotFoundError

from hearth.demo.shelly import Fleet
from hearth.demo.shelly.models import PLUS_1PM
from tests.integration.device_manager.harness import WAIT_S, World

COUNT = 110


async def test_more_than_a_hundred_devices_are_all_live(world: World) -> None:
    async with Fleet([PLUS_1PM] * COUNT) as fleet:
        await world.start(connect_concurrency=32)
        specs = [
            {"name": f"d{i:03}", "mac": d.mac, "host": f"127.0.0.1:{d.port}"}
            for i, d in enumerate(fleet.devices)
        ]
        reply = await world.command("ApplyDevices", devices=specs, actor="test")
        assert reply["ok"] and reply["waiting"] == [], reply

        async def online() -> set[str]:
            live = set()
            for device in fleet.devices:
                try:
                    entry = await world.kv.get(device.device_id)
                except KeyNotFoundError:
                    continue
                if entry.value and json.loads(entry.value)["online"]:
                    live.add(device.device_id)
            return live

        async with asyncio.timeout(WAIT_S * 3):
            while len(await online()) < COUNT:
                await asyncio.sleep(0.2)
        assert all(d.peers for d in fleet.devices)  # one open WebSocket each
