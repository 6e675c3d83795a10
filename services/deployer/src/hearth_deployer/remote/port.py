"""The port a deployment uses to reach one target host: :class:`RemoteHost`.

It is what the workflow, the service applier, the host check and :class:`.backups.Backups`
need, in their own words: no SSH or SFTP types appear here. Two adapters implement it,
run against one set of contract tests (``tests/contract/remote_host.py``):
:class:`.host.SSHHost` (OpenSSH over asyncssh, the real thing) and
:class:`.memory.MemoryHost` (a dict of files, for fast behavioural tests).

Every path a method takes as ``root`` is absolute; the paths under it are relative and
confined to it (``..`` and absolute paths raise :class:`.errors.PathOutsideRoot`).
Operations that change the tree pass the host's :attr:`RemoteHost.fence` first; the file
and archive primitives below the tree operations leave fencing to their caller.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hearth_deployer.domain.plan import FileEntry
from hearth_deployer.remote.fence import Fence
from hearth_deployer.remote.target import SSHTarget


@dataclass
class SessionScope:
    """What a host remembers while a :func:`session_scope` lasts (one deployment)."""

    #: Roots already resolved in this scope (one deployment asks half a dozen times).
    roots: dict[Any, str] = field(default_factory=dict)


_SCOPE: ContextVar[SessionScope | None] = ContextVar("hearth_session_scope", default=None)


def current_scope() -> SessionScope | None:
    return _SCOPE.get()


@contextlib.asynccontextmanager
async def session_scope() -> AsyncIterator[None]:
    """Within (and in the tasks started within): a host resolves each root once. A
    deployment runs in one."""
    if _SCOPE.get() is not None:
        yield
        return
    token = _SCOPE.set(SessionScope())
    try:
        yield
    finally:
        _SCOPE.reset(token)


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


@dataclass(frozen=True)
class UploadFile:
    """One file to place at ``path`` (relative to the root): ``data`` or a local ``source``;
    ``mtime``: whole seconds to stamp it with (None: whenever the host wrote it)."""

    path: str
    mode: int = 0o644
    data: bytes | None = None
    source: Path | None = None
    mtime: int | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.source is None):
            raise ValueError(f"{self.path}: give exactly one of data or source")

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.source is not None
        return self.source.read_bytes()


@dataclass(frozen=True)
class UploadResult:
    """The files written and the bytes sent; ``stats``: what the quick check's listing
    shows for each written file whose stat the upload knows exactly (it was stamped with
    its ``mtime`` and written whole over SFTP or in memory); the rest are listed again."""

    files: tuple[str, ...]
    bytes_sent: int
    stats: dict[str, FileStat] = field(default_factory=dict)


def stamped_mtime(seconds: int) -> str:
    """A whole second as the quick check's ``find -printf %T@`` prints it (GNU find: ten
    decimals). A host whose ``find`` prints it otherwise only costs a hash at its next
    check: the recorded mtime then never matches."""
    return f"{seconds}.0000000000"


def uploaded_stat(item: UploadFile, size: int) -> FileStat | None:
    """The stat a file stamped with ``item.mtime`` and written whole has on the host."""
    if item.mtime is None:
        return None
    return FileStat(size, item.mode & 0o7777, stamped_mtime(item.mtime))


def total_size(files: Sequence[UploadFile]) -> int:
    total = 0
    for item in files:
        if item.data is not None:
            total += len(item.data)
        else:
            assert item.source is not None
            total += item.source.stat().st_size
    return total


@dataclass(frozen=True)
class FileStat:
    size: int
    mode: int
    mtime: str


@dataclass(frozen=True)
class Known:
    """What was recorded for one path: its stat and sha256."""

    size: int
    mtime: str
    sha256: str


@dataclass
class CheckedTree:
    """The remote manifest, the stats it was built from, and the paths hashed for it.

    ``listing``: the fingerprint (:func:`listing_digest`) of the listing the tree was
    built from, as the host printed it ("" when unknown); for a tree built from stats,
    :func:`stats_digest`. A check given a tree whose fingerprint the host's listing still
    has returns that tree: every path, size, mode and mtime is as it was, which is all a
    quick check trusts a recorded sha256 on."""

    entries: dict[str, FileEntry]
    stats: dict[str, FileStat]
    hashed: list[str]
    listing: str = ""

    def unchanged(self) -> CheckedTree:
        """This tree again, found unchanged: nothing hashed, its dicts the caller's own."""
        return CheckedTree(dict(self.entries), dict(self.stats), [], self.listing)


def listing_record(path: str, stat: FileStat) -> bytes:
    """One file as the quick check's ``find -printf '%s %m %T@ %p'`` prints it."""
    return f"{stat.size} {stat.mode:o} {stat.mtime} ./{path}".encode("utf-8", "surrogateescape")


def listing_digest(records: Iterable[bytes]) -> str:
    """The fingerprint of a listing: its records in byte order (``find`` lists in
    directory order, which a rename may change), hashed."""
    return hashlib.sha256(b"\0".join(sorted(records))).hexdigest()


def stats_digest(stats: dict[str, FileStat]) -> str:
    """:func:`listing_digest` of the listing that holds exactly ``stats``."""
    return listing_digest(listing_record(path, stat) for path, stat in stats.items())


class QuickCheckUnsupported(Exception):
    """The host cannot list stats and hash selectively; take the full manifest instead."""


@dataclass(frozen=True)
class Existing:
    """Which of some paths under a root exist as files, which do not, and which of their
    directories do not (deepest first)."""

    present: list[str]
    absent: list[str]
    absent_dirs: tuple[str, ...]


@dataclass(frozen=True)
class Packed:
    """An archive as written: its sha256, its size, and how many entries it lists; and
    how many complete backups (``*.json``, not hidden) its folder held besides, when the
    host counted them (None: not counted); and the folder's names, when they were listed
    to count them (None: the host's shell counted)."""

    sha256: str
    size: int
    entries: int
    beside: int | None = None
    listed: tuple[str, ...] | None = None


def backups_in(names: Iterable[str]) -> int:
    """The complete backups among a folder's ``names`` as the host's shell counts
    ``*.json`` (:attr:`Packed.beside`): names ending ``.json``, none hidden."""
    return sum(1 for n in names if n.endswith(".json") and not n.startswith("."))


class Staged(Protocol):
    """An upload sent ahead into a staging directory; exactly one of the two follows."""

    async def finish(self) -> UploadResult:
        """Move every staged file into place (the upload proper)."""
        ...

    async def abandon(self) -> None:
        """Stop sending and remove what was staged; nothing under the root changed. A second
        call does nothing."""
        ...


class RemoteHost(Protocol):
    """One target host, as a deployment sees it."""

    @property
    def label(self) -> str:
        """``user@host:port`` (or the fake's name), for messages."""
        ...

    @property
    def fence(self) -> Fence: ...

    # -- commands ----------------------------------------------------------------------
    async def run(
        self, command: str, timeout: float | None = None, *, cwd: str | None = None
    ) -> CommandResult:
        """Run a shell command; a non-zero exit is returned, not raised (health checks)."""
        ...

    # -- reading the tree --------------------------------------------------------------
    async def real_root(self, root: str) -> str:
        """``root`` with symlinks resolved; it must exist and be a directory."""
        ...

    async def read_files(
        self, root: str, paths: Iterable[str], *, limit: int
    ) -> dict[str, bytes | None]:
        """Contents of small files (None when missing or larger than ``limit``)."""
        ...

    async def manifest(self, root: str, ignore: Iterable[str] = ()) -> dict[str, FileEntry]:
        """sha256, size and mode of every regular file under ``root`` not ignored."""
        ...

    async def checked_manifest(
        self,
        root: str,
        ignore: Iterable[str],
        known: dict[str, Known],
        previous: CheckedTree | None = None,
    ) -> CheckedTree:
        """The manifest, hashing only files whose size or mtime differ from ``known``;
        raises :class:`QuickCheckUnsupported` when the host cannot. When the host's
        listing is still the one ``previous`` was built from (:attr:`CheckedTree.listing`),
        ``previous`` is returned unchanged, nothing hashed and nothing else compared."""
        ...

    async def file_stats(
        self, root: str, ignore: Iterable[str], paths: Sequence[str] | None = None
    ) -> dict[str, FileStat] | None:
        """Size, mode and mtime of every file under ``root``, or only of those of
        ``paths`` that are regular files there (the rest are left out); None when the
        root is unreadable."""
        ...

    async def free_space(self, root: str) -> int:
        """Bytes available to the login user on the file system holding ``root``."""
        ...

    # -- changing the tree -------------------------------------------------------------
    async def upload(
        self,
        root: str,
        files: Sequence[UploadFile],
        *,
        parallel: int = 8,
        stream: bool | None = None,
    ) -> UploadResult:
        """Place each file atomically, with exactly its mode: a reader sees the old or the
        new file, whole. A path given twice raises ``ValueError``."""
        ...

    async def stage_upload(self, root: str, files: Sequence[UploadFile]) -> Staged | None:
        """Start sending a big upload ahead into a staging directory; None when it is too
        small to be worth it (upload it with :meth:`upload` then)."""
        ...

    async def remove(self, root: str, paths: Iterable[str]) -> list[str]:
        """Delete files; returns those that existed (missing ones are fine)."""
        ...

    async def remove_temporaries(self, root: str) -> None:
        """Delete half-written upload files and staging directories left under ``root``."""
        ...

    # -- files beside the tree, and archives (what backups are built of) ---------------
    async def private_dir(self, path: str) -> str:
        """Create ``path`` (mode 0700) if missing; its real path."""
        ...

    async def existing(self, root: str, paths: Sequence[str]) -> Existing:
        """Which of ``paths`` exist under ``root`` (a directory among them raises)."""
        ...

    async def pack(self, real_root: str, paths: Sequence[str], archive: str) -> Packed:
        """Write the files ``paths`` under ``real_root`` into a new gzip tar ``archive``
        (mode 0600), read it back and describe it (with the backups beside it, see
        :class:`Packed`); nothing is left behind on failure."""
        ...

    async def unpack(self, archive: str, real_root: str, paths: Sequence[str]) -> None:
        """Put each of ``paths`` from ``archive`` in place under ``real_root``, each file
        replaced atomically, with its archived bytes and mode; passes the fence per file."""
        ...

    async def digest(self, path: str) -> str:
        """The sha256 of the file at ``path``; raises :class:`.errors.RemoteError` saying
        why it cannot be read."""
        ...

    async def rename(self, source: str, dest: str) -> None: ...

    async def write_private(self, path: str, data: bytes) -> None:
        """Write ``path`` (mode 0600) through a temporary name and a rename."""
        ...

    async def list_dir(self, path: str) -> list[str]:
        """Names in the directory ``path``; empty when it does not exist."""
        ...

    async def read_many(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        """The whole files at ``paths``; None for one that cannot be read."""
        ...

    async def delete(self, paths: Iterable[str]) -> None:
        """Delete the files at ``paths``, in order; missing ones are fine."""
        ...

    async def remove_empty_dirs(self, real_root: str, dirs: Iterable[str]) -> tuple[str, ...]:
        """rmdir each of ``dirs`` (relative, deepest first) that is empty; those removed."""
        ...


class Hosts(Protocol):
    """Where the deployer obtains its hosts: SSH in production, memory in fast tests."""

    def host(self, target: SSHTarget, fence: Fence) -> RemoteHost:
        """The host ``target`` names; every write passes ``fence`` first."""
        ...
