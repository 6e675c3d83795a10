"""Notifier trials: a real notifier process SIGKILLs itself at a notification point, a
clean one takes over, and the deliveries are counted at a real HTTP receiver (Apprise
``json://``).

What the notifier promises (docs/design.md, "Crash tests and fault points"): every
notification is delivered at least once; it is not delivered again once its
``NotificationSent`` is stored (the restarted notifier reads those first); so a crash can
duplicate a delivery only when it lands between the delivery and that record — at most
one extra copy per crash there (``notify.after_send_before_record``). ``NotificationSent``
itself is stored exactly once (its id is derived from the notification, and JetStream
drops the copy).

Each trial publishes one ``DeploymentFailed`` for a target of its own, and waits until
the notifier's consumer has acked it (after that, nothing can deliver it again).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import nats

from bench.fault_tools import StreamTail, Trial, wait_until, when_up
from bench.warm import ForkServer, fork_server
from hearth_events import new_event
from hearth_events.catalogue import DeploymentFailed
from hearth_events.jetstream import BUCKETS, CONSUMERS, EVENTS_STREAM, STREAMS, ensure
from hearth_events.publish import publish_event
from hearth_servicekit.faults import FAULT_ENV, READY_ENV
from tests.support.receivers import HttpReceiver
from tests.support.services import scoped_secrets

TIMEOUT_S = 60.0
#: The notifier's consumer waits 15 s for an ack; once the clean notifier is up (its start
#: declares the consumer again) the bench shortens it, so that the killed notifier's
#: event comes back in a second, not a quarter of a minute.
BENCH_ACK_WAIT_S = 1.0
ROUTE = {"name": "ops", "events": ["DeploymentFailed"], "urls": ["hook"], "burst_s": 0.05}


@dataclass
class NotifyBench:
    nats_url: str
    pool: ForkServer
    receiver: HttpReceiver
    tail: StreamTail
    work: Path
    nc: Any

    async def close(self) -> None:
        self.pool.close()
        await self.receiver.stop()
        await self.nc.close()


async def open_notify_bench(nats_url: str, work: Path) -> NotifyBench:
    work.mkdir(parents=True, exist_ok=True)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure(js, streams=tuple(STREAMS), buckets=tuple(BUCKETS))
    receiver = HttpReceiver()
    await receiver.start()
    await scoped_secrets(js, "notifier").put("hook", receiver.url().encode())
    pool = fork_server("hearth_notifier", work, "notifier-faults", HEARTH_NATS_URL=nats_url)
    first = pool.start({})

    async def apply_routes() -> dict[str, Any]:
        body = json.dumps({"routes": [ROUTE]}).encode()
        answer: dict[str, Any] = json.loads(
            (await nc.request("hearth.cmd.notify.ApplyRoutes", body, 2)).data
        )
        return answer

    reply = await when_up(apply_routes)
    assert reply.get("ok"), reply
    first.stop()
    return NotifyBench(nats_url, pool, receiver, await StreamTail.at_end(js), work, nc)


def _deliveries(bench: NotifyBench, target: str) -> int:
    return sum(1 for got in bench.receiver.received if f"Deployment to {target} " in got["title"])


async def notify_trial(bench: NotifyBench, n: int, point: str) -> Trial:
    began = time.monotonic()
    js = bench.nc.jetstream()
    target = f"bench-{n}"
    start = len(await bench.tail.read())
    marker = bench.work / f"marker-{n}"
    armed = bench.pool.start({FAULT_ENV: f"{point}:kill", READY_ENV: str(marker)})
    envelope = new_event(
        DeploymentFailed(deployment_id=f"dep-{n}", target=target, step="upload", reason="x"),
        source="bench",
        actor="bench",
    )
    ack = await publish_event(js, envelope)
    code = await asyncio.to_thread(armed.wait, TIMEOUT_S)
    hit = code == -signal.SIGKILL and marker.read_text() == f"{point} kill {armed.pid}\n"
    armed.stop()
    clean = bench.pool.start({})
    other: list[str] = []
    try:
        if not await wait_until(lambda: asyncio.to_thread(clean.ready), TIMEOUT_S):
            other.append("the clean notifier never got ready")
        # Its start declared the consumer with the 15 s ack wait; shorten it now.
        consumer = replace(CONSUMERS["notifier"], ack_wait_s=BENCH_ACK_WAIT_S)
        await js.add_consumer(EVENTS_STREAM, config=consumer.config())

        async def acked() -> bool:
            info = await js.consumer_info(EVENTS_STREAM, "notifier")
            return bool(info.ack_floor.stream_seq >= ack.seq)

        if not await wait_until(acked, TIMEOUT_S):
            other.append("the event was never acked")
        event_id = str(envelope.event_id)

        async def recorded() -> bool:
            return any(
                e.type == "NotificationSent" and event_id in e.data.event_ids  # type: ignore[attr-defined]
                for e in (await bench.tail.read())[start:]
            )

        if not await wait_until(recorded, 10):
            other.append("no NotificationSent")
    finally:
        clean.stop()
    sent = {
        str(e.event_id)
        for e in bench.tail.since(start)
        if e.type == "NotificationSent" and event_id in e.data.event_ids  # type: ignore[attr-defined]
    }
    copies = len(
        [
            e
            for e in bench.tail.since(start)
            if e.type == "NotificationSent" and event_id in e.data.event_ids  # type: ignore[attr-defined]
        ]
    )
    deliveries = _deliveries(bench, target)
    allowed = 2 if point == "notify.after_send_before_record" else 1
    if len(sent) > 1:
        other.append(f"{len(sent)} different NotificationSent")
    return Trial(
        "notify",
        point,
        hit,
        lost=int(deliveries == 0),
        duplicated=max(deliveries - allowed, 0) + copies - len(sent),
        other=tuple(other),
        seconds=time.monotonic() - began,
    )
