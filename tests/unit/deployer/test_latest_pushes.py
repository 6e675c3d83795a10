"""Which push a newly declared target starts from."""

from __future__ import annotations

from hearth_deployer.domain.pushes import LatestPushes, starts_from_a_push
from hearth_events import Envelope, new_event
from hearth_events.catalogue import PushReceived, TargetRegistered, TargetSpec, TargetUpdated

ZERO = "0" * 40


def push(repo: str, ref: str, after: str, *, deleted: bool = False) -> Envelope:
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    data = PushReceived(
        delivery_id=f"d-{repo}-{ref}-{after}",
        repo=repo,
        ref=ref,
        branch=branch,
        before=ZERO,
        after=ZERO if deleted else after,
        deleted=deleted,
    )
    return new_event(data, source="test", actor="github:alice")


def heads(pushes: LatestPushes, branch: str, *repos: str) -> str | None:
    names = {r.lower() for r in repos}
    found = pushes.newest(branch, lambda repo: repo.lower() in names)
    return None if found is None else found.data.after  # type: ignore[attr-defined]


def test_the_newest_push_of_a_branch_wins_whatever_the_repositorys_spelling() -> None:
    pushes = LatestPushes()
    for envelope in (
        push("alice/home", "refs/heads/main", "a" * 40),
        push("alice/home", "refs/heads/dev", "b" * 40),
        push("Alice/Home", "refs/heads/main", "c" * 40),
        push("alice/home", "refs/tags/v1", "d" * 40),  # tags deploy nothing
    ):
        pushes.apply(envelope)
    assert heads(pushes, "main", "alice/home") == "c" * 40
    assert heads(pushes, "dev", "alice/home") == "b" * 40
    assert heads(pushes, "v1", "alice/home") is None
    assert heads(pushes, "main", "bob/home") is None


def test_a_repository_named_by_its_url_and_its_name_gives_the_later_push() -> None:
    pushes = LatestPushes()
    pushes.apply(push("alice/home", "refs/heads/main", "a" * 40))
    pushes.apply(push("https://git.example/alice/home.git", "refs/heads/main", "b" * 40))
    both = ("alice/home", "https://git.example/alice/home.git")
    assert heads(pushes, "main", *both) == "b" * 40
    pushes.apply(push("alice/home", "refs/heads/main", "c" * 40))
    assert heads(pushes, "main", *both) == "c" * 40


def test_a_deleted_branch_has_no_push_to_start_from() -> None:
    pushes = LatestPushes()
    pushes.apply(push("alice/home", "refs/heads/main", "a" * 40))
    pushes.apply(push("alice/home", "refs/heads/main", "", deleted=True))
    assert heads(pushes, "main", "alice/home") is None


def test_a_declaration_starts_from_a_push_when_new_or_moved() -> None:
    spec = TargetSpec(
        name="ha",
        kind="files",
        host="h",
        user="u",
        key_secret="k",
        remote_path="/c",
        repo="alice/home",
    )
    assert starts_from_a_push(TargetRegistered(target="ha", spec=spec))
    for fields, starts in ((("branch",), True), (("subdirectory",), True), (("port",), False)):
        change = TargetUpdated(target="ha", spec=spec, changed_fields=fields)
        assert starts_from_a_push(change) is starts
