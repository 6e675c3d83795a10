"""GitSha: a full commit id or nothing, and events stored before it was checked still load."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from hearth_events import parse_event
from hearth_events.catalogue import CiCompleted, CommitInfo, PushReceived

FULL, SHA256 = "3f786850e387550fdab836ed7e6dc881de23001b", "a" * 64


def push(**fields: object) -> PushReceived:
    values = {"delivery_id": "d", "repo": "alice/home", "ref": "refs/heads/main"}
    return PushReceived.model_validate({**values, "before": "0" * 40, "after": FULL, **fields})


@pytest.mark.parametrize(
    "bad", ["3f78685", FULL.upper(), FULL + "0", "g" * 40, "", f" {FULL}", "main"]
)
def test_anything_but_a_full_commit_id_is_refused(bad: str) -> None:
    for build in (
        lambda: push(after=bad),
        lambda: push(before=bad),
        lambda: push(commits=[{"id": bad}]),
        lambda: CiCompleted(delivery_id="d", repo="r", commit=bad, conclusion="success"),
    ):
        with pytest.raises(ValidationError, match="String should match pattern"):
            build()


def test_full_ids_of_both_hash_functions_are_taken() -> None:
    assert push(after=SHA256).after == SHA256
    assert CommitInfo(id=FULL).id == FULL


def test_an_event_stored_before_the_check_still_loads() -> None:
    # As a v1 PushReceived was written to the stream (a webhook's, a poll's, a new branch's).
    stored = {
        "event_id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "type": "PushReceived",
        "schema_version": 1,
        "occurred_at": "2026-11-22T10:00:00+00:00",
        "source": "webhook-gw/host-1",
        "key": "alice/home",
        "actor": "github:alice",
        "correlation_id": "delivery-1",
        "causation_id": None,
        "data": {
            "delivery_id": "delivery-1",
            "repo": "alice/home",
            "ref": "refs/heads/main",
            "branch": "main",
            "before": "0" * 40,
            "after": FULL,
            "commits": [{"id": FULL, "message": "lights", "modified": ["a.yaml"]}],
        },
    }
    envelope = parse_event(json.dumps(stored).encode())
    assert isinstance(envelope.data, PushReceived)
    assert envelope.data.commits[0].id == envelope.data.after == FULL
