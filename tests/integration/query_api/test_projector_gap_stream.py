"""The projector's gap reading against a real JetStream: an event gone from the front of
the stream (what its limits remove) is passed at once; one deleted from its middle is
retried, then passed after GAP_TRIES; the others are read. A stream leader answering "no
message" for one it has not applied yet, the case the retry exists for, cannot be made on
demand: ``tests/unit/query_api/test_projector_gap.py`` covers it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_events import new_event
from hearth_events.catalogue import DeviceOffline
from hearth_events.jetstream import EVENTS_STREAM
from hearth_query_api.handlers import GAP_TRIES, GapNotReady, Projector

pytestmark = pytest.mark.integration


async def test_purged_and_deleted_events_are_passed_the_rest_read(
    nats_factory: Callable[..., EmbeddedNats],
) -> None:
    server = nats_factory()
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        # HEARTH_EVENTS denies purges and deletes; its limits (an operator's) remove from the
        # front only. Here a stream that allows both makes both kinds of hole.
        await js.add_stream(name=EVENTS_STREAM, subjects=["hearth.evt.>"])
        for n in range(1, 6):
            event = new_event(DeviceOffline(device_id=f"d{n}"), source="test", actor="test")
            await js.publish(f"hearth.evt.device.DeviceOffline.d{n}", event.to_json())
        await js.purge_stream(EVENTS_STREAM, seq=3)  # 1 and 2 are gone from the front
        await js.delete_msg(EVENTS_STREAM, 4)  # 4 is gone from the middle
        projector = Projector(pool=None, js=js)
        for _ in range(GAP_TRIES - 1):
            with pytest.raises(GapNotReady):
                await projector._gap(0, 6)
        found: list[tuple[Any, int]] = await projector._gap(0, 6)
        assert [(e.data.device_id, seq) for e, seq in found] == [("d3", 3), ("d5", 5)]
    finally:
        await nc.close()
