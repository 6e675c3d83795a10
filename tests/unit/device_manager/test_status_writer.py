"""The status writer: many puts in flight, never two for one key, the newest value last."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hearth_device_manager.adapters.status_kv import KvStatusWriter


class SlowKv:
    """A bucket whose puts finish when the test says so."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}
        self.in_flight: dict[str, int] = {}
        self.most_at_once = 0
        self.release = asyncio.Event()

    async def put(self, key: str, value: bytes) -> None:
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        assert self.in_flight[key] == 1, f"two puts at once for {key}"
        self.most_at_once = max(self.most_at_once, sum(self.in_flight.values()))
        await self.release.wait()
        self.values[key] = json.loads(value)
        self.in_flight[key] -= 1
        if not self.in_flight[key]:
            del self.in_flight[key]

    async def delete(self, key: str) -> None:
        await self.release.wait()
        self.values.pop(key, None)


class FakeJs:
    def __init__(self, kv: SlowKv) -> None:
        self.kv = kv

    async def key_value(self, bucket: str) -> SlowKv:
        return self.kv


async def test_a_fleet_is_written_in_parallel_and_each_key_ends_at_its_newest_value() -> None:
    kv = SlowKv()
    writer = KvStatusWriter(FakeJs(kv), in_flight=8)
    for n in range(20):
        await writer.write(f"d{n}", {"online": True})
    await writer.write("d0", {"online": False})  # while d0's first put is in flight
    await writer.write("d0", {"online": True, "n": 2})
    async with asyncio.timeout(5):
        while kv.most_at_once < 8:
            await asyncio.sleep(0)
    kv.release.set()
    await writer.drain()
    assert kv.most_at_once == 8
    assert kv.values["d0"] == {"online": True, "n": 2}
    assert len(kv.values) == 20
    await writer.close()


async def test_a_value_changed_back_before_it_was_written_is_still_right() -> None:
    kv = SlowKv()
    kv.release.set()
    writer = KvStatusWriter(FakeJs(kv))
    await writer.write("d", {"online": True})
    await writer.drain()
    kv.release.clear()
    await writer.write("d", {"online": False})
    async with asyncio.timeout(5):
        while "d" not in kv.in_flight:
            await asyncio.sleep(0)
    await writer.write("d", {"online": True})  # equal to the last written, but not the newest
    kv.release.set()
    await writer.drain()
    assert kv.values["d"] == {"online": True}
    before = writer.writes
    await writer.write("d", {"online": True})
    await writer.drain()
    assert writer.writes == before  # unchanged values are not written
    await writer.close()


async def test_a_forgotten_device_is_deleted_even_if_this_writer_never_wrote_it() -> None:
    kv = SlowKv()
    kv.release.set()
    kv.values["old"] = {"online": True}  # written by an earlier run
    writer = KvStatusWriter(FakeJs(kv))
    await writer.forget("old")
    await writer.write("d", {"online": True})
    await writer.forget("d")  # the newest wish wins: the put never happens
    await writer.drain()
    assert kv.values == {}
    await writer.write("d", {"online": True})  # adopted again: written again
    await writer.drain()
    assert kv.values == {"d": {"online": True}}
    await writer.close()
