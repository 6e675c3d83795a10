"""Which pushes a poll reports, with fakes of the head source and the bus."""

from __future__ import annotations

import pytest

from hearth_events import Envelope, derived_event_id
from hearth_events.catalogue import PushReceived, RepositorySpec
from hearth_webhook_gw.adapters.heads import PollError
from hearth_webhook_gw.domain.heads import KnownHeads, changed_heads
from hearth_webhook_gw.handlers import poll_repository
from tests.support.github import ZERO, sha

SPEC = RepositorySpec(name="alice/home", url="file:///srv/home.git", poll_interval_s=30)


class FakeHeads:
    def __init__(self, heads: dict[str, str] | None) -> None:
        self.result = heads

    async def heads(self, spec: RepositorySpec, token: str | None) -> dict[str, str] | None:
        return self.result


class FakeSink:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    async def publish(self, envelope: Envelope) -> bool:
        self.published.append(envelope)
        return False


def known_with(**heads: str) -> KnownHeads:
    known = KnownHeads()
    for branch, head in heads.items():
        known.apply_data(
            PushReceived(
                delivery_id="d",
                repo="alice/home",
                ref=f"refs/heads/{branch}",
                branch=branch,
                before=ZERO,
                after=head,
            )
        )
    return known


def test_a_moved_branch_is_one_push_from_the_known_head() -> None:
    (push,) = changed_heads(SPEC, {"main": sha("b")}, known_with(main=sha("a")))
    assert (push.before, push.after, push.source, push.created) == (
        sha("a"),
        sha("b"),
        "poll",
        False,
    )


def test_unchanged_heads_report_nothing() -> None:
    assert changed_heads(SPEC, {"main": sha("a")}, known_with(main=sha("a"))) == []


def test_new_and_deleted_branches_are_reported_as_such() -> None:
    pushes = changed_heads(SPEC, {"feature": sha("f")}, known_with(main=sha("a")))
    by_branch = {p.branch: p for p in pushes}
    assert by_branch["feature"].created and by_branch["feature"].before == ZERO
    assert by_branch["main"].deleted and by_branch["main"].after == ZERO


def test_only_followed_branches_are_reported() -> None:
    spec = SPEC.model_copy(update={"branches": ("main",)})
    pushes = changed_heads(spec, {"main": sha("b"), "wip": sha("w")}, known_with(main=sha("a")))
    assert [p.branch for p in pushes] == ["main"]


async def test_a_poll_publishes_with_the_id_a_webhook_of_the_same_push_would_have() -> None:
    sink = FakeSink()
    known = known_with(main=sha("a"))
    await poll_repository(SPEC, FakeHeads({"main": sha("b")}), None, known, sink, source_name="gw")
    (envelope,) = sink.published
    assert envelope.event_id == derived_event_id(
        "push", "alice/home", "refs/heads/main", sha("a"), sha("b")
    )
    assert known.get("alice/home", "refs/heads/main") == sha("b")
    # The next poll of the same heads publishes nothing.
    await poll_repository(SPEC, FakeHeads({"main": sha("b")}), None, known, sink, source_name="gw")
    assert len(sink.published) == 1


async def test_not_modified_publishes_nothing() -> None:
    sink = FakeSink()
    await poll_repository(SPEC, FakeHeads(None), None, KnownHeads(), sink, source_name="gw")
    assert sink.published == []


async def test_a_head_that_is_not_a_commit_id_is_a_poll_error_not_an_event() -> None:
    sink = FakeSink()
    with pytest.raises(PollError, match="not a full commit id"):
        await poll_repository(
            SPEC, FakeHeads({"main": "3f78685"}), None, KnownHeads(), sink, source_name="gw"
        )
    assert sink.published == []
