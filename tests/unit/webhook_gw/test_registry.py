import pytest

from hearth_events.catalogue import (
    RepositoryRegistered,
    RepositoryRemoved,
    RepositorySpec,
    RepositoryUpdated,
)
from hearth_webhook_gw.domain.registry import RepositoryRegistry


def spec(name: str, **fields: object) -> RepositorySpec:
    return RepositorySpec.model_validate({"name": name, "url": f"file:///{name}", **fields})


def registry_with(*specs: RepositorySpec) -> RepositoryRegistry:
    registry = RepositoryRegistry()
    for s in specs:
        registry.apply_data(RepositoryRegistered(repo=s.name, spec=s))
    return registry


def test_new_changed_and_dropped_repositories_become_events() -> None:
    registry = registry_with(spec("a/one"), spec("a/two"), spec("a/gone"))
    changes = registry.plan(
        [spec("a/one"), spec("a/two", poll_interval_s=60), spec("a/new")],
        prune=True,
    )
    assert [type(c) for c in changes] == [
        RepositoryUpdated,
        RepositoryRegistered,
        RepositoryRemoved,
    ]
    updated = changes[0]
    assert isinstance(updated, RepositoryUpdated)
    assert updated.changed_fields == ("poll_interval_s",)


def test_without_prune_nothing_is_removed() -> None:
    registry = registry_with(spec("a/kept"))
    assert registry.plan([], prune=False) == []


def test_applying_the_same_declaration_twice_changes_nothing() -> None:
    registry = RepositoryRegistry()
    for change in registry.plan([spec("a/one")], prune=True):
        registry.apply_data(change)
    assert registry.plan([spec("a/one")], prune=True) == []


def test_names_are_case_insensitive_like_githubs() -> None:
    registry = registry_with(spec("Alice/Home"))
    assert registry.get("alice/home") is not None
    with pytest.raises(ValueError, match="declared twice: alice/home"):
        registry.plan([spec("alice/home"), spec("ALICE/HOME")], prune=True)
