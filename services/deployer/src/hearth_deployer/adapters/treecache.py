"""Trees of exact commits, kept between deployments so a change costs only what changed.

A tree is built once per (repository, subdirectory, commit) under the cache directory:
either by streaming ``git archive`` (the first time: every file is copied in chunks of
:data:`treeio.CHUNK`, never held whole in memory), or from an earlier cached tree by hard-linking
its files and writing only the blobs ``git diff-tree`` names (read with ``git cat-file
--batch``, also in chunks). Beside each tree lies its sha256 manifest, so the plan never
re-hashes an unchanged file either. A deployment reads the cached tree itself, through a
symbolic link (``GitMirrors`` keeps it from pruning until the deployment ends); nothing
ever writes into a cached file in place.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from hearth_deployer.adapters.treeio import (
    GIT_ENV,
    GitReads,
    apply_changes,
    export_tree,
    parse_diff_tree,
)
from hearth_deployer.domain.fetched import FetchError
from hearth_deployer.domain.plan import FileEntry

#: Trees kept per repository and subdirectory (besides the one asked for as a base).
TREES_KEPT = 3

# -- manifests beside the trees ----------------------------------------------------------


def save_manifest(path: Path, manifest: dict[str, FileEntry]) -> None:
    data = {p: [e.sha256, e.size, e.mode] for p, e in sorted(manifest.items())}
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data))
    temporary.replace(path)


def load_manifest(path: Path) -> dict[str, FileEntry] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return {p: FileEntry(p, sha, size, mode) for p, (sha, size, mode) in data.items()}


def has_tree(key_dir: Path, commit: str) -> bool:
    """Whether ``commit``'s tree is cached whole (its manifest is written last)."""
    return (key_dir / f"{commit}.json").exists() and (key_dir / commit).is_dir()


def touch(key_dir: Path, commit: str) -> None:
    """Mark ``commit``'s cached tree as used now: trees are pruned oldest-used first."""
    os.utime(key_dir / f"{commit}.json")


def newest_trees(key_dir: Path) -> list[str]:
    """Cached commits under ``key_dir``, newest first."""
    found = [
        (p.stat().st_mtime, p.stem)
        for p in key_dir.glob("*.json")
        if not p.name.startswith(".") and (key_dir / p.stem).is_dir()
    ]
    return [commit for _, commit in sorted(found, reverse=True)]


def _git_out(mirror: Path, *args: str) -> bytes:
    result = subprocess.run(
        ["git", *args], cwd=mirror, env=GIT_ENV, capture_output=True, check=False
    )
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        raise FetchError(f"git {args[0]} failed: {lines[-1] if lines else 'no output'}")
    return result.stdout


def ensure_tree(
    mirror: Path, treeish: str, key_dir: Path, base: str | None, reads: GitReads
) -> tuple[str | None, tuple[str, ...] | None]:
    """Make sure ``key_dir/<commit>`` holds ``treeish`` (``commit`` or ``commit:sub``);
    returns the cached commit it was built from and the paths that differ from it (None,
    None when exported whole)."""
    commit, _, sub = treeish.partition(":")
    if has_tree(key_dir, commit):
        touch(key_dir, commit)
        return None, None
    key_dir.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=key_dir))
    try:
        built_from, changed, manifest = _build(
            mirror, commit, sub, key_dir=key_dir, base=base, building=building, reads=reads
        )
        (building / "tree").rename(key_dir / commit)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    save_manifest(key_dir / f"{commit}.json", manifest)
    return built_from, changed


def _build(
    mirror: Path,
    commit: str,
    sub: str,
    *,
    key_dir: Path,
    base: str | None,
    building: Path,
    reads: GitReads,
) -> tuple[str | None, tuple[str, ...] | None, dict[str, FileEntry]]:
    cached = newest_trees(key_dir)
    start = base if base in cached else (cached[0] if cached else None)
    old = load_manifest(key_dir / f"{start}.json") if start else None
    if start is not None and old is not None:
        try:
            raw = _git_out(
                mirror, "diff-tree", "-r", "-z", "--no-renames",
                f"{start}:{sub}" if sub else start, f"{commit}:{sub}" if sub else commit,
            )  # fmt: skip
        except FetchError:
            pass  # e.g. the subdirectory did not exist at the base: export whole
        else:
            changes = parse_diff_tree(raw)
            written = apply_changes(mirror, key_dir / start, changes, building / "tree", reads)
            for change in changes:
                old.pop(change.path, None)
            old.update(written)
            return start, tuple(sorted(c.path for c in changes)), old
    treeish = f"{commit}:{sub}" if sub else commit
    return None, None, export_tree(mirror, treeish, building / "tree", reads)


def prune_trees(key_dir: Path, keep: Iterable[str]) -> None:
    kept = set(keep)
    for commit in newest_trees(key_dir)[TREES_KEPT:]:
        if commit not in kept:
            (key_dir / f"{commit}.json").unlink(missing_ok=True)
            shutil.rmtree(key_dir / commit, ignore_errors=True)
