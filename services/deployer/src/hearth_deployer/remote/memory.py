"""An in-memory :class:`.port.RemoteHost`: a dict of files with modes, a few directories
and a table of commands, for behavioural tests that need no sshd.

It passes the same contract tests as the SSH adapter (``tests/contract/remote_host.py``).
What it cannot stand in for is tested on real sshd only: streamed and staged uploads (it
never stages), host keys, sessions, kill -9 and anything about the wire.

Faults are programmable: :meth:`MemoryHost.fill_disk`, :meth:`MemoryHost.fail` (the next
calls of one operation raise), :meth:`MemoryHost.drop_connection`, and ``delay`` (every
operation waits that long first: a slow host). Commands answer from :meth:`MemoryHost.on`;
``true``, ``false``, ``exit N`` and ``echo ...`` work without it, anything else exits 127.
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
from collections.abc import Iterable, Sequence
from functools import partial

from hearth_deployer.domain.paths import is_ignored
from hearth_deployer.domain.plan import FileEntry
from hearth_deployer.remote.confine import check_root, confine
from hearth_deployer.remote.errors import (
    CommandTimedOut,
    ConnectionDropped,
    RemoteCommandFailed,
    RemotePathError,
    RemotePathMissing,
)
from hearth_deployer.remote.fence import UNFENCED, Fence
from hearth_deployer.remote.memorystate import (
    Answer,
    MemoryFile,
    MemoryState,
    builtin,
    tar_gz,
    untar_gz,
)
from hearth_deployer.remote.port import (
    CheckedTree,
    CommandResult,
    Existing,
    FileStat,
    Known,
    Packed,
    Staged,
    UploadFile,
    UploadResult,
    backups_in,
    stats_digest,
    uploaded_stat,
)
from hearth_deployer.remote.target import SSHTarget

__all__ = ["MemoryFile", "MemoryHost", "MemoryHosts"]


class MemoryHost:
    """``MemoryHost("box", roots=["/srv/config"])``; :meth:`fenced` views share its state."""

    def __init__(
        self,
        name: str = "memory",
        *,
        roots: Iterable[str] = (),
        capacity: int = 1 << 30,
        fence: Fence = UNFENCED,
        state: MemoryState | None = None,
    ) -> None:
        self.state = state or MemoryState(name, capacity)
        self._fence = fence
        for root in roots:
            self.state.make_dirs(check_root(root))

    def fenced(self, fence: Fence) -> MemoryHost:
        """This host (the same files) behind another fence."""
        return MemoryHost(fence=fence, state=self.state)

    @property
    def label(self) -> str:
        return self.state.name

    @property
    def fence(self) -> Fence:
        return self._fence

    # -- for tests: seeding, inspecting, faults -------------------------------------------
    @property
    def files(self) -> dict[str, MemoryFile]:
        """Every file by absolute path."""
        return self.state.files

    @property
    def ran(self) -> list[str]:
        """Every command run, in order."""
        return self.state.ran

    def put(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Place a file at an absolute path at once (making its directories)."""
        self.state.put(path, data, mode)
        self.state.changed()

    def on(self, command: str, answer: Answer | int = 0, *, delay: float = 0.0) -> None:
        """What ``command`` answers from now on: an exit status, a result or a function of
        the command; ``delay`` is how long it runs (beyond a timeout, it times out)."""
        result = CommandResult(answer, "", "") if isinstance(answer, int) else answer
        self.state.commands[command] = result
        self.state.command_delays[command] = delay

    def fail(self, operation: str, error: BaseException, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` (a method name) raise ``error``."""
        self.state.failures.setdefault(operation, []).extend([error] * times)

    def fill_disk(self, free: int = 0) -> None:
        """Leave ``free`` bytes: a bigger write raises :class:`.errors.DiskFull`."""
        self.state.capacity = self.state.used() + free

    def drop_connection(self) -> None:
        """Every operation raises :class:`.errors.ConnectionDropped` until :meth:`reconnect`."""
        self.state.connected = False

    def reconnect(self) -> None:
        self.state.connected = True

    async def _enter(self, operation: str) -> None:
        state = self.state
        if state.delay:
            await asyncio.sleep(state.delay)  # a slow host, not a synchronisation
        if not state.connected:
            raise ConnectionDropped(host=state.name, port=22, reason="connection lost")
        pending = state.failures.get(operation)
        if pending:
            raise pending.pop(0)

    # -- commands ------------------------------------------------------------------------
    async def run(
        self, command: str, timeout: float | None = None, *, cwd: str | None = None
    ) -> CommandResult:
        self.fence.check("command")
        await self._enter("run")
        self.state.ran.append(command)
        if cwd is not None and check_root(cwd) not in self.state.dirs:
            return CommandResult(2, "", f"sh: 1: cd: can't cd to {cwd}\n")
        delay = self.state.command_delays.get(command, 0.0)
        if timeout is not None and delay > timeout:
            await asyncio.sleep(timeout)  # the command outlives its timeout
            raise CommandTimedOut(command, host=self.label, timeout=timeout)
        if delay:
            await asyncio.sleep(delay)
        answer = self.state.commands.get(command)
        if answer is None:
            return builtin(command)
        return answer if isinstance(answer, CommandResult) else answer(command)

    # -- reading the tree ----------------------------------------------------------------
    async def real_root(self, root: str) -> str:
        await self._enter("real_root")
        return self.state.resolve(root)

    async def read_files(
        self, root: str, paths: Iterable[str], *, limit: int
    ) -> dict[str, bytes | None]:
        wanted = [confine(p, root) for p in paths]
        await self._enter("read_files")
        real = self.state.resolve(root)
        found: dict[str, bytes | None] = {}
        for rel in wanted:
            file = self.state.files.get(f"{real}/{rel}")
            found[rel] = file.data if file is not None and len(file.data) <= limit else None
        return found

    async def manifest(self, root: str, ignore: Iterable[str] = ()) -> dict[str, FileEntry]:
        await self._enter("manifest")
        ignored = partial(is_ignored, patterns=tuple(ignore))
        return {
            rel: FileEntry(rel, hashlib.sha256(f.data).hexdigest(), len(f.data), f.mode)
            for rel, f in self.state.under(self.state.resolve(root), ignored)
        }

    async def file_stats(
        self, root: str, ignore: Iterable[str], paths: Sequence[str] | None = None
    ) -> dict[str, FileStat] | None:
        await self._enter("file_stats")
        try:
            real = self.state.resolve(root)
        except RemotePathError:
            return None
        ignored = partial(is_ignored, patterns=tuple(ignore))
        wanted = None if paths is None else {confine(p, root) for p in paths}
        return {
            rel: FileStat(len(f.data), f.mode, f.mtime)
            for rel, f in self.state.under(real, ignored)
            if wanted is None or rel in wanted
        }

    async def checked_manifest(
        self,
        root: str,
        ignore: Iterable[str],
        known: dict[str, Known],
        previous: CheckedTree | None = None,
    ) -> CheckedTree:
        patterns = tuple(ignore)
        stats = await self.file_stats(root, patterns)
        if stats is None:
            raise RemotePathError(f"{root} vanished on {self.label}", path=root)
        digest = stats_digest(stats)
        if previous is not None and previous.listing == digest:
            return previous.unchanged()
        entries = await self.manifest(root, patterns)
        hashed = []
        for path, found in stats.items():
            seen = known.get(path)
            if seen is not None and (seen.size, seen.mtime) == (found.size, found.mtime):
                entries[path] = FileEntry(path, seen.sha256, found.size, found.mode)
            else:
                hashed.append(path)
        return CheckedTree(entries, stats, hashed, digest)

    async def free_space(self, root: str) -> int:
        await self._enter("free_space")
        self.state.resolve(root)
        return max(self.state.capacity - self.state.used(), 0)

    # -- changing the tree ---------------------------------------------------------------
    async def upload(
        self,
        root: str,
        files: Sequence[UploadFile],
        *,
        parallel: int = 8,
        stream: bool | None = None,
    ) -> UploadResult:
        check_root(root)
        targets = [confine(item.path, root) for item in files]
        if len(set(targets)) != len(targets):
            raise ValueError("the same path appears twice in one upload")
        await self.fence.confirm("upload")
        await self._enter("upload")
        real = self.state.resolve(root)
        sent = 0
        stats: dict[str, FileStat] = {}
        try:
            for rel, item in zip(targets, files, strict=True):
                data = await asyncio.to_thread(item.read)
                self.fence.check("upload")
                self.state.put(f"{real}/{rel}", data, item.mode)  # whole, or not at all
                stat = uploaded_stat(item, len(data))
                if stat is not None:
                    self.state.files[f"{real}/{rel}"].mtime = stat.mtime
                    stats[rel] = stat
                sent += len(data)
        finally:
            self.state.changed()
        return UploadResult(tuple(targets), sent, stats)

    async def stage_upload(self, root: str, files: Sequence[UploadFile]) -> Staged | None:
        return None  # never worth it in memory: the caller uploads

    async def remove(self, root: str, paths: Iterable[str]) -> list[str]:
        check_root(root)
        targets = [confine(path, root) for path in paths]
        await self._enter("remove")
        real = self.state.resolve(root)
        removed = []
        for rel in targets:
            self.fence.check("remove")
            if self.state.files.pop(f"{real}/{rel}", None) is not None:
                removed.append(rel)
        if removed:
            self.state.changed()
        return removed

    async def remove_temporaries(self, root: str) -> None:
        self.fence.check("cleanup")
        await self._enter("remove_temporaries")
        self.state.remove_work_files(check_root(root))
        self.state.changed()

    # -- files beside the tree, and archives ---------------------------------------------
    async def private_dir(self, path: str) -> str:
        await self._enter("private_dir")
        self.state.make_dirs(check_root(path))
        return check_root(path)

    async def existing(self, root: str, paths: Sequence[str]) -> Existing:
        await self._enter("existing")
        return self.state.existing(self.state.resolve(root), paths)

    async def pack(self, real_root: str, paths: Sequence[str], archive: str) -> Packed:
        await self._enter("pack")
        members = []
        for rel in paths:
            found = self.state.files.get(f"{real_root}/{rel}")
            if found is None:
                raise RemoteCommandFailed(
                    "tar (backup)", host=self.label, exit_status=2, stderr=f"{rel}: missing"
                )
            members.append((rel, found))
        data = tar_gz(members)
        self.state.put(archive, data, 0o600)
        folder = posixpath.dirname(archive)
        listed = tuple(
            posixpath.basename(path)
            for path in self.state.files
            if posixpath.dirname(path) == folder and path != archive
        )
        return Packed(
            hashlib.sha256(data).hexdigest(), len(data), len(members), backups_in(listed), listed
        )

    async def unpack(self, archive: str, real_root: str, paths: Sequence[str]) -> None:
        await self._enter("unpack")
        found = self.state.files.get(archive)
        if found is None:
            raise RemoteCommandFailed(
                "tar (restore)", host=self.label, exit_status=2, stderr=f"{archive}: missing"
            )
        members = untar_gz(found.data)
        try:
            for rel in paths:
                self.fence.check("rename into place")
                if rel not in members:
                    raise RemotePathMissing(f"{real_root}/{rel}", host=self.label)
                data, mode = members[rel]
                self.state.put(f"{real_root}/{rel}", data, mode)
        finally:
            self.state.changed()

    async def digest(self, path: str) -> str:
        await self._enter("digest")
        found = self.state.files.get(path)
        if found is None:
            raise RemotePathError(f"sh: 1: cannot open {path}: No such file", path=path)
        return hashlib.sha256(found.data).hexdigest()

    async def rename(self, source: str, dest: str) -> None:
        await self._enter("rename")
        found = self.state.files.pop(source, None)
        if found is None:
            raise RemotePathMissing(source, host=self.label)
        self.state.files[dest] = found

    async def write_private(self, path: str, data: bytes) -> None:
        await self._enter("write_private")
        if posixpath.dirname(path) not in self.state.dirs:
            raise RemotePathMissing(path, host=self.label)
        self.state.put(path, data, 0o600)

    async def list_dir(self, path: str) -> list[str]:
        await self._enter("list_dir")
        return self.state.children(path)

    async def read_many(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        await self._enter("read_many")
        return {p: (f.data if (f := self.state.files.get(p)) else None) for p in paths}

    async def delete(self, paths: Iterable[str]) -> None:
        await self._enter("delete")
        for path in paths:
            self.state.files.pop(path, None)

    async def remove_empty_dirs(self, real_root: str, dirs: Iterable[str]) -> tuple[str, ...]:
        await self._enter("remove_empty_dirs")
        removed = tuple(rel for rel in dirs if self.state.remove_empty_dir(f"{real_root}/{rel}"))
        self.state.changed()
        return removed


class MemoryHosts:
    """The deployer's hosts in a test: one :class:`MemoryHost` per (host, port, user)."""

    def __init__(self) -> None:
        self.hosts: dict[tuple[str, int, str], MemoryHost] = {}

    def add(self, host: str, user: str, *, port: int = 22, roots: Iterable[str] = ()) -> MemoryHost:
        found = MemoryHost(f"{user}@{host}:{port}", roots=roots)
        self.hosts[(host, port, user)] = found
        return found

    def host(self, target: SSHTarget, fence: Fence = UNFENCED) -> MemoryHost:
        found = self.hosts.get(target.key)
        if found is None:
            raise ConnectionDropped(host=target.host, port=target.port, reason="no such host")
        return found.fenced(fence)
