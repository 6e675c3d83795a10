"""A live feed item is the envelope as JSON with its stream sequence; none is built for
nobody."""

from __future__ import annotations

import json

import pytest

from hearth_events import Envelope, new_event, parse_event
from hearth_events.catalogue import DeploymentLogged, LogLine, TargetRemoved
from hearth_query_api.entrypoints import feed
from hearth_query_api.entrypoints.feed import Broadcaster, feed_item
from tests.support.history import START


def test_the_payload_is_the_envelope_with_its_sequence_last() -> None:
    line = LogLine(at=START, message='naïve "quotes"\nand a newline')
    envelope = parse_event(
        new_event(
            DeploymentLogged(deployment_id="dep-1", target="ha", lines=(line,)),
            source="test",
            actor="github:zoë",
        ).to_json()
    )
    item = feed_item(envelope, 41)
    body = json.loads(item.payload)
    assert body == {**json.loads(envelope.to_json()), "seq": 41}
    assert list(body)[-1] == "seq"
    assert "\n" not in item.payload  # one SSE data line
    assert (item.seq, item.type, item.context, item.key, item.target, item.device) == (
        41,
        "DeploymentLogged",
        "deploy",
        "ha",
        "ha",
        None,
    )


def test_applied_events_reach_open_feeds_and_cost_nothing_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    envelope = new_event(TargetRemoved(target="ha"), source="test", actor="test")
    broadcaster = Broadcaster()
    built: list[int] = []
    real = feed.feed_item

    def counting(e: Envelope, seq: int) -> feed.FeedItem:
        built.append(seq)
        return real(e, seq)

    monkeypatch.setattr(feed, "feed_item", counting)
    broadcaster.publish_applied([(envelope, 1)])
    assert built == []
    with broadcaster.subscribe() as queue:
        broadcaster.publish_applied([(envelope, 2), (envelope, 3)])
        items = [queue.get_nowait() for _ in range(2)]
        assert [item.seq for item in items if item is not None] == [2, 3]
    assert built == [2, 3]
