"""A service that declares what it uses (on a bus without users, where no admin did) must
not change how many servers store a stream: before this was fixed, the first service to
start scaled the admin's 3-replica ``HEARTH_EVENTS`` down to one server, and killing that
server then stopped every publish and fetch until it came back."""

from __future__ import annotations

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth.stack.cluster import declare_replicated
from hearth_events.jetstream import BUCKETS, CONSUMERS, STREAMS, ensure

pytestmark = pytest.mark.integration


async def test_a_service_declaring_leaves_the_replicas_alone(nodes: list[EmbeddedNats]) -> None:
    nc = await nats.connect([node.url for node in nodes])
    try:
        js = nc.jetstream(timeout=10)
        await declare_replicated(js, 3)
        # What BusService.start does on an unauthenticated bus.
        await ensure(js, streams=tuple(STREAMS), buckets=tuple(BUCKETS), consumers=tuple(CONSUMERS))
        for name in STREAMS:
            assert (await js.stream_info(name)).config.num_replicas == 3, name
        for name in BUCKETS:
            assert (await js.stream_info(f"KV_{name}")).config.num_replicas == 3, name
        for name, consumer in CONSUMERS.items():
            info = await js.consumer_info(consumer.stream, name)
            assert info.cluster is not None and len(info.cluster.replicas or []) == 2, name
    finally:
        await nc.close()
