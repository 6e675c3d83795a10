"""Consuming the events stream: Hearth's consumer loop beside FastStream and raw nats-py.

Every row drains the same ``count`` events through the ``notifier`` durable consumer with a
handler that does nothing, acking each event after its handler (explicit acks):

* baseline: raw nats-py, ``fetch(20)`` and ``ack()`` each, in order;
* Hearth's ``EventConsumer`` (batches of 20, in order, one at a time);
* FastStream, fetching one message at a time: the only configuration in which it handles
  a stream in order (the decision in docs/design.md rests on this row);
* FastStream, fetching 20: it hands each fetched message to its own task, so they run at
  once and out of order (not a usable configuration for Hearth; shown for its speed).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
from nats.js.errors import NotFoundError

from bench.ingest import Row
from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.process import free_port
from hearth_events import Envelope, new_event
from hearth_events.catalogue import DeploymentFailed
from hearth_events.jetstream import CONSUMERS, EVENTS_STREAM, ensure
from hearth_events.publish import publish_event
from hearth_servicekit.consumer import EventConsumer
from tests.support.faststream_consumer import FastStreamConsumer

Drain = Callable[[Any, int], Awaitable[float]]


async def _fill(js: Any, count: int) -> None:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(EVENTS_STREAM)
    await ensure(js, streams=(EVENTS_STREAM,), consumers=("notifier",))
    for start in range(0, count, 500):
        await asyncio.gather(
            *(
                publish_event(
                    js,
                    new_event(
                        DeploymentFailed(
                            deployment_id=f"d{n}", target="t", step="upload", reason="r"
                        ),
                        source="bench",
                        actor="bench",
                    ),
                )
                for n in range(start, min(start + 500, count))
            )
        )


async def _raw(js: Any, count: int) -> float:
    definition = CONSUMERS["notifier"]
    sub = await js.pull_subscribe_bind(durable=definition.name, stream=definition.stream)
    started, done = time.perf_counter(), 0
    while done < count:
        for message in await sub.fetch(20, timeout=1):
            await message.ack()
            done += 1
    took = time.perf_counter() - started
    await sub.unsubscribe()
    return took


def _loop(make: Callable[[Any, Callable[[Envelope], Awaitable[None]]], Any]) -> Drain:
    async def drain(js: Any, count: int) -> float:
        seen = 0
        finished = asyncio.Event()

        async def handle(_: Envelope) -> None:
            nonlocal seen
            seen += 1
            if seen >= count:
                finished.set()

        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(make(js, handle).run(stop))
        await finished.wait()
        took = time.perf_counter() - started
        stop.set()
        await task
        return took

    return drain


async def run_consume(count: int) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-consume-"))
    server = EmbeddedNats(workdir / "nats", port=free_port())
    server.start()
    variants: dict[str, Drain] = {
        "baseline: raw nats-py fetch(20) + ack each": _raw,
        "EventConsumer, batches of 20, in order": _loop(
            lambda js, h: EventConsumer(js, "notifier", h, fetch_timeout_s=0.2)
        ),
        "FastStream, fetching 1 (in order)": _loop(
            lambda js, h: FastStreamConsumer(js, "notifier", h, fetch_timeout_s=0.2)
        ),
        "FastStream, fetching 20 (concurrent, out of order)": _loop(
            lambda js, h: FastStreamConsumer(
                js, "notifier", h, fetch_timeout_s=0.2, fetch_one=False
            )
        ),
    }
    rows: list[Row] = []
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        for what, drain in variants.items():
            await _fill(js, count)
            rows.append(Row("consume", what, count / await drain(js, count), 0, 0))
    finally:
        await nc.close()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return rows
