"""The events between the projector's position and a later one (a crashed instance held
them) are read from the stream; one the stream answers "no message" for is skipped only
when it is really gone. A stream leader elected a moment ago can answer so for a message
it has not applied yet: the cluster kill test lost such an event from the read models."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import nats.js.errors
import pytest

from hearth_events import new_event
from hearth_events.catalogue import DeviceOffline
from hearth_query_api.handlers import GAP_TRIES, GapNotReady, Projector


class Stream:
    """A stream holding sequences ``first``..``last``; ``unready`` answer "no message"
    that many times before they can be read."""

    def __init__(self, first: int, last: int, unready: dict[int, int] | None = None) -> None:
        self.first, self.last = first, last
        self.unready = dict(unready or {})

    async def get_msg(self, stream: str, seq: int) -> Any:
        if seq < self.first or self.unready.get(seq, 0) > 0:
            self.unready[seq] = self.unready.get(seq, 0) - 1
            raise nats.js.errors.NotFoundError
        event = new_event(DeviceOffline(device_id=f"d{seq}"), source="test", actor="test")
        return SimpleNamespace(data=event.to_json())

    async def stream_info(self, stream: str) -> Any:
        return SimpleNamespace(state=SimpleNamespace(first_seq=self.first, last_seq=self.last))


def ids(found: list[Any]) -> list[tuple[str, int]]:
    return [(envelope.data.device_id, seq) for envelope, seq in found]


async def test_a_message_not_readable_yet_fails_the_batch_until_it_is() -> None:
    projector = Projector(pool=None, js=Stream(first=1, last=9, unready={5: 1}))
    with pytest.raises(GapNotReady):
        await projector._gap(3, 7)  # 4, 5 (not yet), 6
    assert ids(await projector._gap(3, 7)) == [("d4", 4), ("d5", 5), ("d6", 6)]


async def test_a_message_below_the_first_sequence_is_skipped_as_removed() -> None:
    projector = Projector(pool=None, js=Stream(first=5, last=9))
    assert ids(await projector._gap(2, 7)) == [("d5", 5), ("d6", 6)]


async def test_a_message_deleted_on_its_own_is_skipped_after_some_tries() -> None:
    projector = Projector(pool=None, js=Stream(first=1, last=9, unready={5: 10_000}))
    for _ in range(GAP_TRIES - 1):
        with pytest.raises(GapNotReady):
            await projector._gap(4, 7)
    assert ids(await projector._gap(4, 7)) == [("d6", 6)]


async def test_what_was_counted_of_a_settled_gap_is_forgotten() -> None:
    """The tries are counted per sequence; once the projector is past one, its count goes
    (a long-running query API kept every count it ever made)."""
    projector = Projector(pool=None, js=Stream(first=1, last=20, unready={5: 10_000, 12: 1}))
    with pytest.raises(GapNotReady):
        await projector._gap(4, 7)  # 5 never comes
    assert set(projector._misses) == {5}
    with pytest.raises(GapNotReady):
        await projector._gap(10, 14)  # the projector went past 5; 12 comes on a second try
    assert set(projector._misses) == {12}
    assert ids(await projector._gap(10, 14)) == [("d11", 11), ("d12", 12), ("d13", 13)]
    await projector._gap(13, 15)
    assert projector._misses == {}
