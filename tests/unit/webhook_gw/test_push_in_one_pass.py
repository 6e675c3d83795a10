"""A push delivery is validated straight from its bytes: the event it becomes is the one
the general path (``json.loads``, then the payload model) makes, and anything that is not
a well-formed push is left to the general path, which says what is wrong."""

from __future__ import annotations

import json

import pytest

from hearth_webhook_gw.domain.deliveries import (
    Delivery,
    actor_of,
    event_data_for,
    push_actor,
    well_formed_push,
)
from hearth_webhook_gw.domain.payloads import push_received
from tests.support.github import ZERO, encode, push_payload, sha


def delivery(body: bytes, event: str = "push") -> Delivery:
    return Delivery(event, "d-1", "sha256=x", "application/json", body)


@pytest.mark.parametrize(
    "payload",
    [
        push_payload(commits=3, files={"added": ["a"], "modified": [], "removed": ["b"]}),
        push_payload("Alice/Other", ref="refs/tags/v1", before=ZERO, after=sha("t")),
        {**push_payload(), "sender": None, "pusher": {"name": "bob", "email": None}},
        {**push_payload(), "commits": [], "deleted": True, "after": ZERO, "head_commit": None},
    ],
)
def test_one_pass_makes_the_event_the_general_path_makes(payload: dict[str, object]) -> None:
    body = encode(payload)
    push = well_formed_push(delivery(body))
    assert push is not None
    parsed = json.loads(body)
    assert push_received("d-1", push) == event_data_for("push", "d-1", parsed)
    assert push_actor(push) == actor_of(parsed)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        encode({**push_payload(), "after": "short"}),
        encode({key: v for key, v in push_payload().items() if key != "repository"}),
        encode({**push_payload(), "repository": {"full_name": 7}}),
    ],
)
def test_a_malformed_push_is_left_to_the_general_path(body: bytes) -> None:
    assert well_formed_push(delivery(body)) is None


def test_other_events_take_the_general_path() -> None:
    assert well_formed_push(delivery(encode(push_payload()), event="workflow_run")) is None
