"""What a fetch hands to a deployment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hearth_deployer.domain.paths import UnsafePath, safe_relative
from hearth_deployer.domain.plan import FileEntry

#: A full commit id (SHA-1, or SHA-256 for repositories that use it).
FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


class FetchError(Exception):
    """The configuration could not be fetched; the message says what to check."""


def tree_subdirectory(subdirectory: str) -> str:
    """A target's ``subdirectory`` as a path inside the repository ("" for its root)."""
    if subdirectory.strip("/") in ("", "."):
        return ""
    try:
        return safe_relative(subdirectory)
    except UnsafePath as exc:
        raise FetchError(f"subdirectory {subdirectory!r} is not inside the repository") from exc


@dataclass(frozen=True)
class FetchedTree:
    commit: str
    root: Path
    files: int
    bytes: int
    #: sha256/size/mode of the tree's regular files when the source already knows them.
    manifest: dict[str, FileEntry] | None = None
    #: The commit the tree was built from incrementally, and the paths that differ.
    base: str | None = None
    changed: tuple[str, ...] | None = None
    #: Every regular file of the tree (and symlink to one), sorted, when the source
    #: already knows them: a kept commit's tree never changes, so its twenty targets of
    #: one push share one walk of it instead of two each.
    paths: tuple[str, ...] | None = None
