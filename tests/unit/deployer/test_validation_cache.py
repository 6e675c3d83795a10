"""A fan-out validates each distinct tree once: the same (repository, commit, subdirectory)
with the same ignore patterns, secret names and configuration roots shares one report;
anything that changes the report is a separate run."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.domain.validation.cache import ScanKey, ValidationCache, ValidationKey
from hearth_deployer.domain.validation.tree import ParsedFiles, scan_tree, validate_tree

RUN = "hearth_deployer.domain.validation.cache.scan_tree"


def tree(root: Path, *, absolute: bool = True) -> Path:
    """A tree with a parse error, a secret and (``absolute``) an include of an absolute
    path, which only the target's configuration roots map onto the tree."""
    root.mkdir(parents=True)
    (root / "configuration.yaml").write_text("homeassistant:\n  name: Home\napi_key: !secret key\n")
    (root / "broken.yaml").write_text("a: [1, 2\n")
    if absolute:
        (root / "groups.yaml").write_text("lights: !include /config/configuration.yaml\n")
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
    scan = ScanKey(*(fields.pop(name) for name in ("repo", "commit", "subdirectory", "ignore")))  # type: ignore[arg-type]
    return ValidationKey(scan=scan, **fields)  # type: ignore[arg-type]


async def test_twenty_targets_of_one_push_share_one_run(tmp_path: Path) -> None:
    cache = ValidationCache()
    roots = [tree(tmp_path / f"target-{n}") for n in range(20)]  # each target's own copy
    reports = await asyncio.gather(*(cache.validate(key(), root) for root in roots))
    assert cache.runs == 1
    assert all(r == reports[0] for r in reports)
    assert not reports[0].ok
    assert reports[0].files == ["broken.yaml", "configuration.yaml", "groups.yaml"]
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


@pytest.mark.parametrize(
    "other",
    [
        {"secret_names": frozenset()},
        {"secret_names": None},
        {"config_roots": ("/srv/ha",)},
    ],
)
async def test_targets_on_other_paths_or_secrets_share_the_parse(
    tmp_path: Path, other: dict[str, object]
) -> None:
    """Twenty hosts each with its own ``remote_path`` get their own judgement of the tags
    but parse the tree once; the report is the one a whole validation gives."""
    cache, root = ValidationCache(), tree(tmp_path / "t")
    await cache.validate(key(), root)
    report = await cache.validate(key(**other), root)
    assert (cache.runs, cache.scans) == (2, 1)
    changed = key(**other)
    assert report == validate_tree(
        root,
        ignore=changed.scan.ignore,
        target_secret_names=set(changed.secret_names) if changed.secret_names is not None else None,
        config_roots=changed.config_roots,
    )


@pytest.mark.parametrize("absolute", [False, True])
async def test_a_tree_that_includes_no_absolute_path_is_judged_once_for_every_root(
    tmp_path: Path, absolute: bool
) -> None:
    """Twenty file targets, each on its own ``remote_path``: their roots can change the
    report only through an absolute include, so without one they share one judgement."""
    cache, root = ValidationCache(), tree(tmp_path / "t", absolute=absolute)
    roots = [(f"/srv/host-{n}",) for n in range(3)]
    reports = [await cache.validate(key(config_roots=r), root) for r in roots]
    assert cache.runs == (3 if absolute else 1)
    for report, config_roots in zip(reports, roots, strict=True):
        assert report == validate_tree(root, target_secret_names={"key"}, config_roots=config_roots)


@pytest.mark.parametrize(
    "other",
    [{"commit": "b" * 40}, {"subdirectory": "ha"}, {"ignore": ("broken.yaml",)}, {"repo": "b/h"}],
)
async def test_another_tree_or_ignore_list_is_parsed_again(
    tmp_path: Path, other: dict[str, object]
) -> None:
    cache, root = ValidationCache(), tree(tmp_path / "t")
    await cache.validate(key(), root)
    await cache.validate(key(**other), root)
    assert cache.scans == 2


async def test_a_run_that_raised_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, root = ValidationCache(), tree(tmp_path / "t")

    def broken(*args: object, **kwargs: object) -> object:
        raise OSError("disk went away")

    monkeypatch.setattr(RUN, broken)
    with pytest.raises(OSError, match="disk went away"):
        await cache.validate(key(), root)
    monkeypatch.setattr(RUN, scan_tree)
    assert not (await cache.validate(key(), root)).ok
    assert cache.scans == 2  # the scan that raised was not kept


async def test_a_cancelled_target_does_not_cancel_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, root = ValidationCache(), tree(tmp_path / "t")
    entered, release = threading.Event(), threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(30)
        return scan_tree(*args, **kwargs)

    monkeypatch.setattr(RUN, held)
    first = asyncio.ensure_future(cache.validate(key(), root))
    second = asyncio.ensure_future(cache.validate(key(), root))
    await asyncio.to_thread(entered.wait, 30)  # the run is under way, both wait on it
    first.cancel()
    release.set()
    assert not (await second).ok
    assert first.cancelled() and cache.runs == 1


async def test_a_new_commit_parses_only_the_files_that_changed(tmp_path: Path) -> None:
    """A push changes a few files: the next commit's scan takes the others' parse from
    the earlier scan, by path and text, and its report is the one a fresh parse makes."""
    cache = ValidationCache()
    first = tree(tmp_path / "first", absolute=False)
    for n in range(20):
        (first / f"automations/a{n}.yaml").parent.mkdir(exist_ok=True)
        (first / f"automations/a{n}.yaml").write_text(f"- id: a{n}\n  alias: x\n  alias: y\n")
    await cache.validate(key(), first)
    assert cache.files.parsed == 22
    second = tmp_path / "second"
    shutil.copytree(first, second)
    (second / "automations/a3.yaml").write_text("- id: a3\n  alias: !secret nope\n")
    (second / "automations/a4.yaml").rename(second / "automations/moved.yaml")
    report = await cache.validate(key(commit="b" * 40), second)
    assert cache.files.parsed == 22 + 2  # the changed file, and the moved one (its path)
    assert report == validate_tree(second, target_secret_names={"key"}, config_roots=("/config",))
    moved = [w for w in report.warnings if w.path == "automations/moved.yaml"]
    assert len(moved) == 1  # its duplicate key is reported under its new path
    assert any("!secret nope" in e.message for e in report.errors)


def test_parsed_files_keep_the_newest_within_their_bytes() -> None:
    files = ParsedFiles(max_bytes=100)
    for n in range(10):
        files.get(f"f{n}.yaml", f"a: {n}\n" + "#" * 20)
    assert files.parsed == 10
    files.get("f9.yaml", "a: 9\n" + "#" * 20)  # the newest: kept
    assert files.parsed == 10
    files.get("f0.yaml", "a: 0\n" + "#" * 20)  # the oldest: gone, parsed again
    assert files.parsed == 11
