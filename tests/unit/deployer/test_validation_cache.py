"""A fan-out validates each distinct tree once: the same (repository, commit, subdirectory)
with the same ignore patterns, secret names and configuration roots shares one report;
anything that changes the report is a separate run."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.domain.validation.cache import ValidationCache, ValidationKey
from hearth_deployer.domain.validation.tree import validate_tree

RUN = "hearth_deployer.domain.validation.cache.validate_tree"


def tree(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "configuration.yaml").write_text("homeassistant:\n  name: Home\napi_key: !secret key\n")
    (root / "broken.yaml").write_text("a: [1, 2\n")
    return root


def key(**changes: object) -> ValidationKey:
    fields: dict[str, object] = {
        "repo": "alice/home",
        "commit": "a" * 40,
        "subdirectory": "",
        "ignore": (),
        "secret_names": frozenset({"key"}),
        "config_roots": ("/config",),
    }
    fields.update(changes)
    return ValidationKey(**fields)  # type: ignore[arg-type]


async def test_twenty_targets_of_one_push_share_one_run(tmp_path: Path) -> None:
    cache = ValidationCache()
    roots = [tree(tmp_path / f"target-{n}") for n in range(20)]  # each target's own copy
    reports = await asyncio.gather(*(cache.validate(key(), root) for root in roots))
    assert cache.runs == 1
    assert all(r == reports[0] for r in reports)
    assert not reports[0].ok and reports[0].files == ["broken.yaml", "configuration.yaml"]
    reports[0].errors.clear()  # each caller has its own copy
    assert not (await cache.validate(key(), roots[1])).ok


@pytest.mark.parametrize(
    "other",
    [
        {"commit": "b" * 40},
        {"subdirectory": "ha"},
        {"ignore": ("broken.yaml",)},
        {"secret_names": frozenset()},
        {"secret_names": None},
        {"config_roots": ("/srv/ha",)},
        {"repo": "bob/home"},
    ],
)
async def test_anything_that_changes_the_report_is_validated_again(
    tmp_path: Path, other: dict[str, object]
) -> None:
    cache = ValidationCache()
    root = tree(tmp_path / "t")
    await cache.validate(key(), root)
    await cache.validate(key(**other), root)
    assert cache.runs == 2


async def test_a_run_that_raised_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, root = ValidationCache(), tree(tmp_path / "t")

    def broken(*args: object, **kwargs: object) -> object:
        raise OSError("disk went away")

    monkeypatch.setattr(RUN, broken)
    with pytest.raises(OSError, match="disk went away"):
        await cache.validate(key(), root)
    monkeypatch.setattr(RUN, validate_tree)
    assert not (await cache.validate(key(), root)).ok
    assert cache.runs == 2


async def test_a_cancelled_target_does_not_cancel_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, root = ValidationCache(), tree(tmp_path / "t")
    entered, release = threading.Event(), threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(30)
        return validate_tree(*args, **kwargs)

    monkeypatch.setattr(RUN, held)
    first = asyncio.ensure_future(cache.validate(key(), root))
    second = asyncio.ensure_future(cache.validate(key(), root))
    await asyncio.to_thread(entered.wait, 30)  # the run is under way, both wait on it
    first.cancel()
    release.set()
    assert not (await second).ok
    assert first.cancelled() and cache.runs == 1
