"""Reading trees out of Git and tar streams into directories, chunk by chunk.

Every file's content passes through :func:`read_chunk`, at most :data:`CHUNK` bytes at a
time: a tree may hold large images and sounds, and none is ever held whole in memory.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hearth_deployer.domain.fetched import FetchError
from hearth_deployer.domain.paths import UnsafePath, safe_relative
from hearth_deployer.domain.plan import FileEntry
from hearth_servicekit.gitenv import git_environment

#: Bytes read from Git (or a tarball) at a time; no file is ever read whole.
CHUNK = 1024 * 1024
GIT_ENV = git_environment()


@dataclass
class GitReads:
    """What was read from Git: whole exports, and blobs read one by one (tests count)."""

    exports: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    largest_read: int = 0


def tree_files(root: Path) -> list[str]:
    """Every regular file of the tree at ``root`` (a symlink to a file counts; a symlinked
    directory is not entered), as POSIX paths relative to it, sorted.

    ``os.scandir`` knows a regular file from the directory listing, without a ``stat``:
    ``Path.rglob`` with ``is_file`` and ``relative_to`` took about 140 µs a file."""
    found: list[str] = []
    folders = [(str(root), "")]
    while folders:
        folder, prefix = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                path = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    folders.append((entry.path, path + "/"))
                elif entry.is_file():
                    found.append(path)
    found.sort()
    return found


def read_chunk(stream: IO[bytes], size: int, reads: GitReads) -> bytes:
    """The one place file contents are read: at most ``size`` bytes (the fault point tests
    use to prove nothing is read whole)."""
    data = stream.read(min(size, CHUNK))
    reads.largest_read = max(reads.largest_read, len(data))
    return data


def copy_stream(source: IO[bytes], dest: Path, size: int, reads: GitReads) -> str:
    """Copy exactly ``size`` bytes from ``source`` to a new file; their sha256."""
    digest = hashlib.sha256()
    with dest.open("wb") as out:
        left = size
        while left:
            data = read_chunk(source, left, reads)
            if not data:
                raise FetchError(f"{dest.name}: Git ended the file {left} bytes early")
            digest.update(data)
            out.write(data)
            left -= len(data)
    return digest.hexdigest()


def _mode(executable: bool) -> int:
    return 0o755 if executable else 0o644


def _relative(name: str, strip: str) -> str | None:
    if strip:
        if not (name + "/").startswith(strip + "/"):
            return None
        name = name[len(strip) :]
    name = name.strip("/")
    if not name or name == ".":
        return None
    try:
        return safe_relative(name)
    except UnsafePath as exc:
        raise FetchError(f"the archive holds an unsafe path: {exc}") from None


def extract_stream(
    stream: IO[bytes],
    dest: Path,
    *,
    strip: str,
    reads: GitReads,
    gzipped: bool = False,
    top_level: bool = False,
) -> dict[str, FileEntry]:
    """Extract a tar stream's regular files under ``dest`` chunk by chunk; symlinks are
    kept as links (created last, never followed) for validation to refuse. ``top_level``
    drops every name's first component (GitHub's ``<owner>-<repo>-<sha>/``) first."""
    dest.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, FileEntry] = {}
    links: list[tuple[str, str]] = []
    with tarfile.open(fileobj=stream, mode="r|gz" if gzipped else "r|", bufsize=CHUNK) as tar:
        for member in tar:
            raw = member.name.split("/", 1)[1] if top_level and "/" in member.name else member.name
            if top_level and "/" not in member.name:
                continue
            name = _relative(raw, strip)
            if name is None or member.isdir():
                continue
            if member.issym() or member.islnk():
                links.append((name, member.linkname))
                continue
            if not member.isfile():
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            digest = copy_stream(source, target, member.size, reads)
            mode = _mode(bool(member.mode & 0o111))
            target.chmod(mode)
            manifest[name] = FileEntry(name, digest, member.size, mode)
    for name, link in links:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, dest / name)
    return manifest


def export_tree(mirror: Path, treeish: str, dest: Path, reads: GitReads) -> dict[str, FileEntry]:
    """``git archive`` of ``treeish`` streamed into ``dest``."""
    reads.exports += 1
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            ["git", "archive", "--format=tar", treeish],
            cwd=mirror,
            env=GIT_ENV,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert process.stdout is not None
        try:
            manifest = extract_stream(process.stdout, dest, strip="", reads=reads)
        except tarfile.ReadError:
            manifest = {}
        finally:
            process.stdout.close()
            status = process.wait()
        if status != 0:
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            raise FetchError(f"git archive failed: {lines[-1] if lines else 'no output'}")
    return manifest


@dataclass(frozen=True)
class Change:
    path: str
    status: str  # A, M, D, T
    mode: str  # the new Git mode: 100644, 100755, 120000, 160000
    blob: str


def parse_diff_tree(output: bytes, strip: str = "") -> list[Change]:
    """``git diff-tree -r -z --no-renames`` raw output."""
    fields = output.split(b"\0")
    changes = []
    for i in range(0, len(fields) - 1, 2):
        head, path = fields[i].decode(), fields[i + 1].decode("utf-8", "surrogateescape")
        _, new_mode, _, new_blob, status = head.lstrip(":").split(" ")
        name = _relative(path, strip)
        if name is not None:
            changes.append(Change(name, status[0], new_mode, new_blob))
    return changes


def link_tree(source: Path, dest: Path) -> None:
    """A copy of ``source`` at ``dest`` whose files are hard links (no data copied)."""
    for directory, dirnames, filenames in os.walk(source):
        rel = Path(directory).relative_to(source)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in (*filenames, *(d for d in dirnames if (Path(directory) / d).is_symlink())):
            src = Path(directory) / name
            if src.is_symlink():
                os.symlink(os.readlink(src), dest / rel / name)
            else:
                os.link(src, dest / rel / name)


def apply_changes(
    mirror: Path, base: Path, changes: Iterable[Change], dest: Path, reads: GitReads
) -> dict[str, FileEntry]:
    """``dest`` = ``base`` with ``changes`` applied; the changed files' manifest entries
    (deleted paths map to nothing). Blobs stream from one ``git cat-file --batch``."""
    link_tree(base, dest)
    written: dict[str, FileEntry] = {}
    blobs: list[Change] = []
    gone: list[Change] = []
    for change in changes:
        (gone if change.status == "D" or change.mode == "160000" else blobs).append(change)
    # Deletions first, each pruning the folders it empties; only then are files written,
    # so a folder emptied while one of its files is rewritten, or a folder that became a
    # file (or a file that became a folder), ends exactly as a full export would.
    for change in gone:
        target = dest / change.path
        if target.is_symlink() or target.is_file():
            target.unlink()
        _prune_empty(dest, target.parent)
    for change in blobs:
        target = dest / change.path
        if target.is_symlink() or target.is_file():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
    if not blobs:
        return written
    process = subprocess.Popen(
        ["git", "cat-file", "--batch"],
        cwd=mirror,
        env=GIT_ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        for change in blobs:
            process.stdin.write(f"{change.blob}\n".encode())
            process.stdin.flush()
            header = process.stdout.readline().split()
            if len(header) != 3 or header[1] != b"blob":
                raise FetchError(f"git cat-file could not read {change.path} ({change.blob})")
            size = int(header[2])
            reads.blobs += 1
            reads.blob_bytes += size
            target = dest / change.path
            if change.mode == "120000":
                link = process.stdout.read(size).decode("utf-8", "surrogateescape")
                os.symlink(link, target)
            else:
                digest = copy_stream(process.stdout, target, size, reads)
                mode = _mode(change.mode == "100755")
                target.chmod(mode)
                written[change.path] = FileEntry(change.path, digest, size, mode)
            process.stdout.read(1)  # the newline after each object
    finally:
        process.stdin.close()
        process.stdout.close()
        process.wait()
    return written


def _prune_empty(root: Path, directory: Path) -> None:
    while directory != root and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent
