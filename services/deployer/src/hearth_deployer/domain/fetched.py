"""What a fetch hands to a deployment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hearth_deployer.domain.plan import FileEntry


class FetchError(Exception):
    """The configuration could not be fetched; the message says what to check."""


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
