"""A push delivery is validated straight from its bytes: the event it becomes is the one
the general path (``json.loads``, then the payload model) makes, and anything that is not
a well-formed push is left to the general path, which says what is wrong."""

from __future__ import annotations

import json

import pytest

from hearth_events.catalogue import PushReceived
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


SHA256 = "ab" * 32


@pytest.mark.parametrize(
    "payload",
    [
        push_payload(commits=3, files={"added": ["a"], "modified": [], "removed": ["b"]}),
        push_payload("Alice/Other", ref="refs/tags/v1", before=ZERO, after=sha("t")),
        push_payload(ref="refs/pull/1/merge", before=SHA256, after="cd" * 32),
        {**push_payload(), "sender": None, "pusher": {"name": "bob", "email": None}},
        {**push_payload(), "commits": [], "deleted": True, "after": ZERO, "head_commit": None},
        {
            **push_payload(),
            "created": True,
            "forced": True,
            "compare": None,
            "commits": [
                {"id": sha("c"), "timestamp": None, "url": None, "author": {"name": "Ann"}},
                {"id": sha("d"), "author": {"name": "Bo", "username": None}, "message": "ü\n"},
                {"id": sha("e"), "timestamp": "2026-11-22T10:00:00Z", "added": ["x y"]},
            ],
        },
        {**push_payload(commits=2048), "forced": True},
    ],
)
def test_the_event_built_without_validation_is_the_validated_event(
    payload: dict[str, object],
) -> None:
    """``push_received`` skips validating the event again: what it builds must be exactly
    what validating the same values makes, down to the JSON it is published as."""
    push = well_formed_push(delivery(encode(payload)))
    assert push is not None
    built = push_received("d-1", push)
    validated = PushReceived.model_validate(built.model_dump())
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == validated.model_fields_set == set(PushReceived.model_fields)
    assert all(c == type(c).model_validate(c.model_dump()) for c in built.commits)
    assert hash(built) == hash(validated)


def test_other_events_take_the_general_path() -> None:
    assert well_formed_push(delivery(encode(push_payload()), event="workflow_run")) is None
