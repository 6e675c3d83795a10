"""What a deployment will change on a target, and the diff a person reviews.

Hearth only removes files it deployed itself: the target keeps a manifest of what Hearth
wrote, and a file the repository dropped is removed only if that manifest lists it.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hearth_deployer.domain.paths import matcher
from hearth_events.catalogue import ChangedFile

MANIFEST_NAME = ".hearth-manifest.json"
DIFF_LIMIT_BYTES = 256 * 1024
TEXT_LIMIT_BYTES = 1024 * 1024
HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileEntry:
    path: str
    sha256: str
    size: int
    mode: int

    def changed_file(self) -> ChangedFile:
        return ChangedFile(path=self.path, sha256=self.sha256, size=self.size, mode=self.mode)


@dataclass
class Plan:
    added: list[FileEntry] = field(default_factory=list)
    changed: list[FileEntry] = field(default_factory=list)
    removed: list[FileEntry] = field(default_factory=list)
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def to_upload(self) -> list[FileEntry]:
        return self.added + self.changed

    @property
    def touched(self) -> list[str]:
        return sorted(e.path for e in (*self.added, *self.changed, *self.removed))

    @property
    def upload_bytes(self) -> int:
        return sum(e.size for e in self.to_upload)


def local_manifest(root: Path, files: Iterable[str]) -> dict[str, FileEntry]:
    """sha256, size and mode of local files, each read in chunks (never whole)."""
    manifest = {}
    for rel in files:
        path = root / rel
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as source:
            while chunk := source.read(HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        manifest[rel] = FileEntry(
            rel,
            digest.hexdigest(),
            size,
            0o755 if path.stat().st_mode & 0o111 else 0o644,
        )
    return manifest


def plan_changes(
    local: dict[str, FileEntry],
    remote: dict[str, FileEntry],
    *,
    deployed_before: set[str],
    ignore: tuple[str, ...],
) -> Plan:
    plan = Plan()
    ignored = matcher(ignore)
    for path in sorted(local):
        if ignored(path) or path == MANIFEST_NAME:
            continue
        entry, current = local[path], remote.get(path)
        if current is None:
            plan.added.append(entry)
        elif current.sha256 != entry.sha256 or current.mode != entry.mode:
            plan.changed.append(entry)
        else:
            plan.unchanged += 1
    for path in sorted(deployed_before - set(local)):
        if path in remote and not ignored(path):
            plan.removed.append(remote[path])
    return plan


def unified_diff(
    plan: Plan,
    new_root: Path,
    read_old: Callable[[str], bytes | None],
    *,
    limit: int = DIFF_LIMIT_BYTES,
) -> tuple[str, bool]:
    """A unified diff of the text files the plan touches; (diff, truncated)."""
    chunks: list[str] = []
    size = 0
    entries = (
        [(e, "added") for e in plan.added]
        + [(e, "changed") for e in plan.changed]
        + [(e, "removed") for e in plan.removed]
    )
    for entry, kind in sorted(entries, key=lambda item: item[0].path):
        old = b"" if kind == "added" else read_old(entry.path)
        # A file too big to diff is never read: a tree may hold large images and sounds.
        new = (
            b""
            if kind == "removed"
            else None
            if entry.size > TEXT_LIMIT_BYTES
            else (new_root / entry.path).read_bytes()
        )
        old_text, new_text = _text(old), _text(new)
        if old_text is None or new_text is None:
            chunk = f"Binary files a/{entry.path} and b/{entry.path} differ\n"
        else:
            lines = difflib.unified_diff(
                old_text.splitlines(keepends=True),
                new_text.splitlines(keepends=True),
                fromfile="/dev/null" if kind == "added" else f"a/{entry.path}",
                tofile="/dev/null" if kind == "removed" else f"b/{entry.path}",
            )
            chunk = "".join(
                line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                for line in lines
            )
        if size + len(chunk) > limit:
            return "".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return "".join(chunks), False


def _text(data: bytes | None) -> str | None:
    if data is None or len(data) > TEXT_LIMIT_BYTES or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
