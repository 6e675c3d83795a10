"""What a :class:`.memory.MemoryHost` holds: files with modes, directories, the commands
it answers and the faults it is told to show; plus its tar.gz archives."""

from __future__ import annotations

import io
import itertools
import posixpath
import shlex
import tarfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from hearth_deployer.remote.confine import STAGING_PREFIX, check_root
from hearth_deployer.remote.errors import DiskFull, RemotePathError, RemotePathMissing
from hearth_deployer.remote.manifest import is_managed_internal
from hearth_deployer.remote.port import CommandResult, Existing

#: What a programmed command answers: a fixed result, or one computed from the command.
Answer = CommandResult | Callable[[str], CommandResult]


@dataclass
class MemoryFile:
    data: bytes
    mode: int
    mtime: str


@dataclass
class MemoryState:
    """Shared by every fenced view of one host. Paths are absolute."""

    name: str
    capacity: int
    files: dict[str, MemoryFile] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    commands: dict[str, Answer] = field(default_factory=dict)
    command_delays: dict[str, float] = field(default_factory=dict)
    failures: dict[str, list[BaseException]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    connected: bool = True
    delay: float = 0.0
    clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    #: Called after every change to the files: a test can mirror them for a simulator.
    on_change: Callable[[], None] | None = None

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def used(self) -> int:
        return sum(len(f.data) for f in self.files.values())

    def make_dirs(self, path: str) -> None:
        """Make the directory ``path`` and its parents (directories carry no mode here)."""
        while path not in ("/", ""):
            if path in self.files:
                raise RemotePathError(
                    f"{path} on {self.name} is a file where a directory is expected", path=path
                )
            self.dirs.add(path)
            path = posixpath.dirname(path)

    def put(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Place a file at once, making its directories; the disk may fill up."""
        old = self.files.get(path)
        free = self.capacity - self.used() + (len(old.data) if old else 0)
        if len(data) > free:
            raise DiskFull(path, host=self.name, free_bytes=max(free, 0))
        if path in self.dirs:
            raise RemotePathError(f"{path} on {self.name} is a directory", path=path)
        self.make_dirs(posixpath.dirname(path))
        self.files[path] = MemoryFile(data, mode, f"{next(self.clock)}.0000000000")

    def resolve(self, root: str) -> str:
        root = check_root(root)
        if root in self.files:
            raise RemotePathError(f"{root} on {self.name} is not a directory", path=root)
        if root not in self.dirs:
            raise RemotePathMissing(root, host=self.name)
        return root

    def under(
        self, real_root: str, ignored: Callable[[str], bool]
    ) -> Iterator[tuple[str, MemoryFile]]:
        """Every managed file under ``real_root`` that is not ``ignored``, by relative path."""
        prefix = real_root + "/"
        for path, found in sorted(self.files.items()):
            rel = path[len(prefix) :]
            if path.startswith(prefix) and not is_managed_internal(rel) and not ignored(rel):
                yield rel, found

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        inside = [p[len(prefix) :] for p in (*self.files, *self.dirs) if p.startswith(prefix)]
        return sorted({p.split("/")[0] for p in inside})

    def remove_work_files(self, real_root: str) -> None:
        """Delete temporary upload files and staging directories under ``real_root``."""
        prefix = real_root + "/"
        for path in [p for p in self.files if p.startswith(prefix)]:
            if is_managed_internal(path[len(prefix) :]):
                del self.files[path]
        for directory in [d for d in self.dirs if d.startswith(prefix)]:
            if any(p.startswith(STAGING_PREFIX) for p in directory[len(prefix) :].split("/")):
                self.dirs.discard(directory)

    def remove_empty_dir(self, directory: str) -> bool:
        inside = directory + "/"
        if directory not in self.dirs or any(
            p.startswith(inside) for p in (*self.files, *self.dirs)
        ):
            return False
        self.dirs.discard(directory)
        return True

    def existing(self, real_root: str, paths: Sequence[str]) -> Existing:
        present: list[str] = []
        absent: list[str] = []
        absent_dirs: set[str] = set()
        for rel in paths:
            if f"{real_root}/{rel}" in self.dirs:
                raise RemotePathError(f"{rel} on {self.name} is a directory, not a file", path=rel)
            if f"{real_root}/{rel}" in self.files:
                present.append(rel)
                continue
            absent.append(rel)
            parts = rel.split("/")[:-1]
            absent_dirs.update(
                "/".join(parts[: i + 1])
                for i in range(len(parts))
                if f"{real_root}/{'/'.join(parts[: i + 1])}" not in self.dirs
            )
        deepest_first = sorted(absent_dirs, key=lambda d: (-d.count("/"), d))
        return Existing(present, absent, tuple(deepest_first))


def tar_gz(members: Iterable[tuple[str, MemoryFile]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for rel, found in members:
            info = tarfile.TarInfo(rel)
            info.size, info.mode = len(found.data), found.mode
            tar.addfile(info, io.BytesIO(found.data))
    return buffer.getvalue()


def untar_gz(data: bytes) -> dict[str, tuple[bytes, int]]:
    members = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for info in tar.getmembers():
            extracted = tar.extractfile(info)
            if extracted is not None:
                members[info.name] = (extracted.read(), info.mode)
    return members


def builtin(command: str) -> CommandResult:
    """``true``, ``false``, ``exit N`` and ``echo ...``; anything else is not found."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = []
    if words == ["true"]:
        return CommandResult(0, "", "")
    if words == ["false"]:
        return CommandResult(1, "", "")
    if len(words) == 2 and words[0] == "exit" and words[1].isdigit():
        return CommandResult(int(words[1]), "", "")
    if words and words[0] == "echo":
        return CommandResult(0, " ".join(words[1:]) + "\n", "")
    name = words[0] if words else command
    return CommandResult(127, "", f"sh: 1: {name}: not found\n")
