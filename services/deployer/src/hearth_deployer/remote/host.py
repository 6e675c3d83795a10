"""The operations a deployment performs on one target host, all confined under a root."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import shlex
import stat
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from hearth_deployer.domain.paths import is_ignored
from hearth_deployer.domain.plan import FileEntry
from hearth_deployer.remote.confine import (
    STAGING_PREFIX,
    TEMP_PREFIX,
    DirectoryGuard,
    check_root,
    confine,
)
from hearth_deployer.remote.errors import RemoteCommandFailed, RemoteError, RemotePathError
from hearth_deployer.remote.fence import UNFENCED, Fence
from hearth_deployer.remote.manifest import (
    ROOT_MISSING_STATUS,
    ManifestParseError,
    command_unsupported,
    is_managed_internal,
    manifest_command,
    parse_manifest_output,
)
from hearth_deployer.remote.sftperrors import command_error, sftp_error, write_error

if TYPE_CHECKING:
    from hearth_deployer.remote.backup import BackupInfo, RestoreResult
    from hearth_deployer.remote.pool import CommandResult, HostPool, RawCommandResult, SSHTarget

log = logging.getLogger(__name__)

_CHUNK = 256 * 1024
#: Bytes of a local file read per SFTP write call: asyncssh splits each call into many
#: write requests in flight at once, so a big file streams instead of waiting per block.
#: With ``parallel`` files in flight, at most ``parallel`` of these are held in memory.
UPLOAD_CHUNK = 2 * 1024 * 1024
_MANIFEST_ATTEMPTS = 3


@dataclass(frozen=True)
class UploadFile:
    """One file to place at ``path`` (relative to the root): ``data`` or a local ``source``."""

    path: str
    mode: int = 0o644
    data: bytes | None = None
    source: Path | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.source is None):
            raise ValueError(f"{self.path}: give exactly one of data or source")


@dataclass(frozen=True)
class UploadResult:
    files: tuple[str, ...]
    bytes_sent: int


class RemoteHost:
    """A target host reached through a :class:`HostPool`; create with ``pool.host(target)``.

    Every operation that changes the host passes ``fence`` first (see :mod:`.fence`)."""

    def __init__(self, pool: HostPool, target: SSHTarget, fence: Fence = UNFENCED) -> None:
        self.pool = pool
        self.target = target
        self.fence = fence

    @property
    def label(self) -> str:
        return self.target.label

    # -- commands ---------------------------------------------------------------------

    async def run(
        self, command: str, timeout: float | None = None, *, cwd: str | None = None
    ) -> CommandResult:
        """Run a shell command; a non-zero exit is returned, not raised (health checks)."""
        self.fence.check("command")
        if cwd is not None:
            command = f"cd -- {shlex.quote(check_root(cwd))} && {command}"
        return await self.pool.run(self.target, command, timeout=timeout)

    async def run_raw(
        self, command: str, *, timeout: float | None = None, stdin: bytes | None = None
    ) -> RawCommandResult:
        return await self.pool.run_raw(self.target, command, timeout=timeout, stdin=stdin)

    # -- reading ----------------------------------------------------------------------

    async def real_root(self, sftp: asyncssh.SFTPClient, root: str) -> str:
        """The root with symlinks resolved; it must exist and be a directory."""
        root = check_root(root)
        try:
            real = await sftp.realpath(root)
            attrs = await sftp.stat(real)
        except asyncssh.SFTPError as exc:
            raise sftp_error(
                exc, root, host=self.label, user=self.target.user, action="read"
            ) from None
        if attrs.type != asyncssh.FILEXFER_TYPE_DIRECTORY:
            raise RemotePathError(f"{root} on {self.label} is not a directory", path=root)
        return real

    async def read_files(
        self, root: str, paths: Iterable[str], *, limit: int
    ) -> dict[str, bytes | None]:
        """Contents of small files under ``root`` (for diffs); None when missing or larger
        than ``limit``. Symlinked parents that leave the root read as missing."""
        wanted = [confine(p, root) for p in paths]
        found: dict[str, bytes | None] = {}
        async with self.pool.sftp(self.target) as sftp:
            real_root = await self.real_root(sftp, root)
            guard = DirectoryGuard(sftp, real_root, host=self.label, user=self.target.user)
            for rel in wanted:
                found[rel] = None
                if await guard.parent(rel, create=False) is None:
                    continue
                path = guard.absolute(rel)
                try:
                    attrs = await sftp.lstat(path)
                    if attrs.type != asyncssh.FILEXFER_TYPE_REGULAR or (attrs.size or 0) > limit:
                        continue
                    async with sftp.open(path, "rb") as handle:
                        found[rel] = _as_bytes(await handle.read())
                except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
                    continue
                except asyncssh.SFTPError as exc:
                    raise sftp_error(
                        exc, path, host=self.label, user=self.target.user, action="read"
                    ) from None
        return found

    async def manifest(self, root: str, ignore: Iterable[str] = ()) -> dict[str, FileEntry]:
        """sha256, size and mode of every regular file under ``root`` that is not ignored."""
        patterns = tuple(ignore)
        async with self.pool.sftp(self.target) as sftp:
            real_root = await self.real_root(sftp, root)
        for attempt in range(1, _MANIFEST_ATTEMPTS + 1):
            result = await self.run_raw(manifest_command(real_root, patterns))
            stderr = result.stderr.decode("utf-8", "replace")
            if result.exit_status == 0:
                try:
                    return parse_manifest_output(result.stdout, patterns)
                except ManifestParseError as exc:
                    log.info("manifest of %s: %s (attempt %d)", self.label, exc, attempt)
                    continue
            if command_unsupported(result.exit_status, stderr):
                log.info("%s lacks GNU find/stat/sha256sum; hashing over SFTP", self.label)
                return await self.manifest_over_sftp(root, patterns)
            if result.exit_status == ROOT_MISSING_STATUS:
                raise RemotePathError(f"{root} vanished on {self.label}", path=root)
            raise command_error(
                stderr, root, host=self.label, user=self.target.user, action="read"
            ) or RemoteCommandFailed(
                "manifest", host=self.label, exit_status=result.exit_status, stderr=stderr
            )
        raise RemoteError(f"the tree under {root} on {self.label} kept changing while read")

    async def manifest_over_sftp(
        self, root: str, ignore: Iterable[str] = ()
    ) -> dict[str, FileEntry]:
        """The same manifest, hashed by reading every file over SFTP (slow; any server)."""
        patterns = tuple(ignore)
        tree_patterns = tuple(p for p in patterns if p.endswith("/"))
        entries: dict[str, FileEntry] = {}
        async with self.pool.sftp(self.target) as sftp:
            real_root = await self.real_root(sftp, root)
            pending = [""]
            while pending:
                directory = pending.pop()
                async for name in sftp.scandir(f"{real_root}/{directory}".rstrip("/")):
                    filename = str(name.filename)
                    if filename in (".", ".."):
                        continue
                    rel = f"{directory}/{filename}" if directory else filename
                    kind = name.attrs.type
                    if kind == asyncssh.FILEXFER_TYPE_DIRECTORY:
                        if not is_ignored(rel, tree_patterns) and not is_managed_internal(rel):
                            pending.append(rel)
                    elif kind == asyncssh.FILEXFER_TYPE_REGULAR:
                        if is_ignored(rel, patterns) or is_managed_internal(rel):
                            continue
                        digest, size = await self._hash_over_sftp(sftp, f"{real_root}/{rel}")
                        mode = stat.S_IMODE(name.attrs.permissions or 0)
                        entries[rel] = FileEntry(rel, digest, size, mode)
        return dict(sorted(entries.items()))

    async def _hash_over_sftp(self, sftp: asyncssh.SFTPClient, path: str) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        try:
            async with sftp.open(path, "rb") as handle:
                while data := _as_bytes(await handle.read(_CHUNK)):
                    digest.update(data)
                    size += len(data)
        except asyncssh.SFTPError as exc:
            raise sftp_error(
                exc, path, host=self.label, user=self.target.user, action="read"
            ) from None
        return digest.hexdigest(), size

    async def free_space(self, root: str) -> int:
        """Bytes available to the login user on the file system holding ``root``."""
        async with self.pool.sftp(self.target) as sftp:
            real_root = await self.real_root(sftp, root)
            return await self._free_bytes(sftp, real_root)

    async def _free_bytes(self, sftp: asyncssh.SFTPClient, path: str) -> int:
        try:
            vfs = await sftp.statvfs(path)
        except asyncssh.SFTPError as exc:
            raise sftp_error(
                exc, path, host=self.label, user=self.target.user, action="inspect"
            ) from None
        return vfs.bavail * (vfs.frsize or vfs.bsize)

    # -- writing ----------------------------------------------------------------------

    async def upload(
        self,
        root: str,
        files: Sequence[UploadFile],
        *,
        parallel: int = 8,
        stream: bool | None = None,
    ) -> UploadResult:
        """Place each file atomically: written to a temporary name beside it, synced,
        then renamed over the old one, so a reader sees the old or the new file, whole.

        Everything runs over one SFTP channel with up to ``parallel`` files in flight; an
        upload of at least ``STREAM_MIN_BYTES`` (or with ``stream=True``) goes as one tar
        stream into a staging directory instead (see :mod:`.streamed`), and falls back
        to SFTP when the host's tar cannot do it.
        """
        from hearth_deployer.remote import streamed

        check_root(root)
        targets = [confine(item.path, root) for item in files]
        if len(set(targets)) != len(targets):
            raise ValueError("the same path appears twice in one upload")
        await self.fence.confirm("upload")
        if stream is None:
            # One thread for every stat: a first deployment asks about hundreds of files.
            total = await asyncio.to_thread(total_size, files)
            stream = total >= streamed.STREAM_MIN_BYTES
        if stream and files:
            async with self.pool.sftp(self.target) as sftp:
                real_root = await self.real_root(sftp, root)
            try:
                sent = await streamed.upload_streamed(self, root, real_root, targets, files)
            except streamed.StreamUnsupported as exc:
                log.info("%s cannot take a tar stream (%s); uploading over SFTP", self.label, exc)
            else:
                return UploadResult(tuple(targets), sent)
        async with self.pool.sftp(self.target) as sftp:
            real_root = await self.real_root(sftp, root)
            guard = DirectoryGuard(sftp, real_root, host=self.label, user=self.target.user)
            slots = asyncio.Semaphore(parallel)

            async def one(rel: str, item: UploadFile) -> int:
                async with slots:
                    return await self._upload_one(sftp, guard, rel, item)

            outcomes = await asyncio.gather(
                *(one(rel, item) for rel, item in zip(targets, files, strict=True)),
                return_exceptions=True,
            )
        sent = 0
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            sent += outcome
        return UploadResult(tuple(targets), sent)

    async def _upload_one(
        self, sftp: asyncssh.SFTPClient, guard: DirectoryGuard, rel: str, item: UploadFile
    ) -> int:
        parent = await guard.parent(rel, create=True)
        assert parent is not None  # create=True makes every missing directory
        final = guard.absolute(rel)
        temporary = f"{parent}/{TEMP_PREFIX}{secrets.token_hex(8)}"
        user = self.target.user
        size = len(item.data) if item.data is not None else await _local_size(item)
        self.fence.check("upload")
        try:
            handle = await sftp.open(temporary, "wb", asyncssh.SFTPAttrs(permissions=0o600))
        except asyncssh.SFTPError as exc:
            raise sftp_error(exc, final, host=self.label, user=user, action="write") from None
        written = 0
        try:
            try:
                async for offset, chunk in _chunks(item):
                    await handle.write(chunk, offset)
                    written += len(chunk)
                # The requested mode exactly, whatever the server's umask.
                await handle.chmod(item.mode)
                await _fsync(handle)
            finally:
                await handle.close()
            self.fence.check("upload")
            await sftp.posix_rename(temporary, final)
        except asyncssh.SFTPError as exc:
            free = await self._free_bytes_or_none(sftp, parent)
            await self._remove_quietly(sftp, temporary)
            raise write_error(
                exc, final, host=self.label, user=user, needed_bytes=size - written, free_bytes=free
            ) from None
        except BaseException:
            await self._remove_quietly(sftp, temporary)
            raise
        return written

    async def _free_bytes_or_none(self, sftp: asyncssh.SFTPClient, path: str) -> int | None:
        try:
            return await self._free_bytes(sftp, path)
        except RemoteError:
            return None

    async def _remove_quietly(self, sftp: asyncssh.SFTPClient, path: str) -> None:
        if not self.fence.valid():
            return  # not ours to touch any more: the next holder removes temporaries
        try:
            await sftp.remove(path)
        except asyncssh.SFTPError:
            log.debug("could not remove %s on %s", path, self.label)

    async def remove_temporaries(self, root: str) -> None:
        """Delete half-written upload files and staging directories a killed deployer
        left under ``root``."""
        self.fence.check("cleanup")
        command = (
            f"find {shlex.quote(check_root(root))} -xdev "
            f"\\( -type d -name {shlex.quote(STAGING_PREFIX + '*')} -prune "
            "-exec rm -rf -- {} + \\) -o "
            f"\\( -type f -name {shlex.quote(TEMP_PREFIX + '*')} -exec rm -f -- {{}} + \\)"
        )
        result = await self.run_raw(command)
        if result.exit_status != 0:
            stderr = result.stderr.decode("utf-8", "replace")
            raise RemoteCommandFailed(
                "find (temporary files)",
                host=self.label,
                exit_status=result.exit_status,
                stderr=stderr,
            )

    async def remove(self, root: str, paths: Iterable[str]) -> list[str]:
        """Delete files under ``root``; returns those that existed. Missing ones are fine,
        so a retried deployment step gives the same result."""
        check_root(root)
        targets = [confine(path, root) for path in paths]
        async with self.pool.sftp(self.target) as sftp:
            real_root = await self.real_root(sftp, root)
            guard = DirectoryGuard(sftp, real_root, host=self.label, user=self.target.user)
            return await self.remove_with(sftp, guard, targets)

    async def remove_with(
        self, sftp: asyncssh.SFTPClient, guard: DirectoryGuard, targets: Iterable[str]
    ) -> list[str]:
        removed = []
        for rel in targets:
            self.fence.check("remove")
            if await guard.parent(rel, create=False) is None:
                continue
            path = guard.absolute(rel)
            try:
                await sftp.remove(path)
            except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
                continue
            except asyncssh.SFTPError as exc:
                raise sftp_error(
                    exc, path, host=self.label, user=self.target.user, action="delete"
                ) from None
            removed.append(rel)
        return removed

    # -- backups ----------------------------------------------------------------------

    async def backup(
        self,
        root: str,
        paths: Iterable[str] | None,
        dest_dir: str,
        backup_id: str,
        *,
        ignore: Iterable[str] = (),
        keep: int | None = 10,
    ) -> BackupInfo:
        from hearth_deployer.remote.backup import take_backup

        return await take_backup(self, root, paths, dest_dir, backup_id, ignore=ignore, keep=keep)

    async def restore(
        self, root: str, backup: BackupInfo, *, touched: Iterable[str] = ()
    ) -> RestoreResult:
        from hearth_deployer.remote.backup import restore_backup

        return await restore_backup(self, root, backup, touched=touched)

    async def list_backups(self, dest_dir: str) -> list[BackupInfo]:
        from hearth_deployer.remote.backup import list_backups

        return await list_backups(self, dest_dir)

    async def prune_backups(self, dest_dir: str, keep: int) -> list[str]:
        from hearth_deployer.remote.backup import prune_backups

        return await prune_backups(self, dest_dir, keep)


def _as_bytes(data: object) -> bytes:
    """asyncssh types file reads as ``str``; a file opened in binary mode gives bytes."""
    return data if isinstance(data, bytes) else str(data).encode()


def total_size(files: Sequence[UploadFile]) -> int:
    total = 0
    for item in files:
        if item.data is not None:
            total += len(item.data)
        else:
            assert item.source is not None
            total += item.source.stat().st_size
    return total


async def _local_size(item: UploadFile) -> int:
    assert item.source is not None
    return (await asyncio.to_thread(item.source.stat)).st_size


async def _chunks(item: UploadFile) -> AsyncIterator[tuple[int, bytes]]:
    if item.data is not None:
        # One call: asyncssh splits it into pipelined SFTP writes itself.
        yield 0, item.data
        return
    assert item.source is not None
    with item.source.open("rb") as local:
        offset = 0
        while chunk := await asyncio.to_thread(local.read, UPLOAD_CHUNK):
            yield offset, chunk
            offset += len(chunk)


async def _fsync(handle: asyncssh.SFTPClientFile) -> None:
    """Flush to disk before the rename, so a power cut never leaves an empty new file.

    ``fsync@openssh.com`` is an OpenSSH extension; other servers just skip this step."""
    with contextlib.suppress(asyncssh.SFTPOpUnsupported):
        await handle.fsync()
