"""A device's power and Wi-Fi signal over the day: live statuses in the real KV bucket are
sampled into PostgreSQL bucket by bucket, and served by the running query API."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
import nats
import pytest

from hearth_events import escape_token
from hearth_events.jetstream import DEVICE_STATUS_BUCKET
from hearth_query_api.adapters.samples import StatusSampler
from hearth_query_api.adapters.schema import SCHEMA
from tests.integration.query_api.conftest import Api
from tests.support.fleet import HALL, KITCHEN

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def live(watts: float | None, rssi: int, online: bool = True) -> bytes:
    status: dict[str, Any] = {"online": online, "address": "10.0.0.11", "gen": 2, "rssi": rssi}
    if watts is not None:
        status["components"] = {"switch:0": {"output": True, "apower": watts}}
    return json.dumps(status).encode()


async def test_statuses_become_samples_that_the_api_serves(api: Api, database_url: str) -> None:
    nc = await nats.connect(api.nats_url)
    kv = await nc.jetstream().key_value(DEVICE_STATUS_BUCKET)
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": SCHEMA})
    start = time.time() // 600 * 600 - 1200  # two buckets ago
    clock = Clock(start)
    sampler = StatusSampler(nc.jetstream(), pool, clock=clock)
    stop = asyncio.Event()
    running = asyncio.create_task(sampler.run(stop))
    try:
        await kv.put(escape_token(KITCHEN), live(40.0, -62))
        await kv.put(escape_token(HALL), live(None, -75))
        async with asyncio.timeout(20):
            while len(sampler.sampler.devices) < 2:
                await asyncio.sleep(0.02)
        clock.now = start + 300  # half way through the first bucket: 100 W from here
        await kv.put(escape_token(KITCHEN), live(100.0, -62))
        async with asyncio.timeout(20):
            while sampler.sampler.devices[KITCHEN].last.power_w != 100.0:
                await asyncio.sleep(0.02)
        clock.now = start + 1200  # both buckets over
        await sampler.store_ended()
    finally:
        stop.set()
        await running
        await pool.close()
        await nc.close()

    status, kitchen = api.call("GET", f"/api/v1/devices/{KITCHEN}/samples")
    assert status == 200, kitchen
    assert kitchen["bucket_s"] == 600
    assert [(p["power_w"], p["power_max_w"], p["rssi_dbm"]) for p in kitchen["points"]] == [
        (70.0, 100.0, -62.0),  # 40 W for 5 minutes, then 100 W
        (100.0, 100.0, -62.0),  # carried forward: the status did not change again
    ]
    status, hall = api.call("GET", "/api/v1/devices/hall/samples")  # by name
    assert [(p["power_w"], p["rssi_dbm"], p["online"]) for p in hall["points"]] == [
        (None, -75.0, 1.0),
        (None, -75.0, 1.0),
    ]
    assert api.call("GET", "/api/v1/devices/attic/samples")[0] == 404
    assert api.call("GET", f"/api/v1/devices/{KITCHEN}/samples", token=None)[0] == 401
