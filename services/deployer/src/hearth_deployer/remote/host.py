"""The SSH adapter of the :class:`.port.RemoteHost` port: a target reached through a
:class:`.pool.HostPool`, every operation confined under a root."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shlex
import stat
from collections.abc import Iterable, Sequence

import asyncssh

from hearth_deployer.domain.paths import is_ignored
from hearth_deployer.domain.plan import FileEntry
from hearth_deployer.remote import archives, quickcheck, streamed
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
from hearth_deployer.remote.pool import HostPool
from hearth_deployer.remote.port import (
    CheckedTree,
    CommandResult,
    Existing,
    FileStat,
    Known,
    Packed,
    UploadFile,
    UploadResult,
    total_size,
    uploaded_stat,
)
from hearth_deployer.remote.session import SSHSession
from hearth_deployer.remote.sftperrors import command_error, sftp_error
from hearth_deployer.remote.sftpio import as_bytes, lstat_or_none, read_small
from hearth_deployer.remote.sftpupload import upload_over_sftp
from hearth_deployer.remote.staged import StagedUpload
from hearth_deployer.remote.target import SSHTarget
from hearth_deployer.remote.together import together

log = logging.getLogger(__name__)

_CHUNK = 256 * 1024
_MANIFEST_ATTEMPTS = 3
#: Files read at once for a diff, on the one SFTP session.
_READS_IN_FLIGHT = 16


class SSHHosts:
    """The deployer's hosts in production: each reached over SSH through one shared pool."""

    def __init__(self, pool: HostPool) -> None:
        self.pool = pool

    def host(self, target: SSHTarget, fence: Fence = UNFENCED) -> SSHHost:
        return SSHHost(self.pool, target, fence)


class SSHHost(SSHSession):
    """A target host reached through a :class:`HostPool`: ``SSHHost(pool, target, fence)``.

    Every operation that changes the host passes ``fence`` first (see :mod:`.fence`)."""

    # -- commands ---------------------------------------------------------------------

    async def run(
        self, command: str, timeout: float | None = None, *, cwd: str | None = None
    ) -> CommandResult:
        """Run a shell command; a non-zero exit is returned, not raised (health checks)."""
        self.fence.check("command")
        if cwd is not None:
            command = f"cd -- {shlex.quote(check_root(cwd))} && {command}"
        return await self.pool.run(self.target, command, timeout=timeout)

    # -- reading ----------------------------------------------------------------------

    async def real_root(self, root: str) -> str:
        async with self.pool.sftp(self.target) as sftp:
            return await self.resolve_root(sftp, root)

    async def read_files(
        self, root: str, paths: Iterable[str], *, limit: int
    ) -> dict[str, bytes | None]:
        """Contents of small files under ``root`` (for diffs); None when missing or larger
        than ``limit``. A folder that leads out of the root is refused
        (:class:`.errors.PathOutsideRoot`), as every operation refuses it. The files
        are read at once, each in three round trips (its parent and its ``LSTAT``
        together, then :func:`.sftpio.read_small`'s two)."""
        wanted = [confine(p, root) for p in paths]
        async with self.pool.sftp(self.target) as sftp:
            real_root = await self.resolve_root(sftp, root)
            guard = self.guard(sftp, real_root)
            slots = asyncio.Semaphore(_READS_IN_FLIGHT)

            async def read(rel: str) -> bytes | None:
                async with slots:
                    return await self._read_one(sftp, guard, rel, limit)

            contents = await asyncio.gather(*(read(rel) for rel in wanted))
        return dict(zip(wanted, contents, strict=True))

    async def _read_one(
        self, sftp: asyncssh.SFTPClient, guard: DirectoryGuard, rel: str, limit: int
    ) -> bytes | None:
        path = guard.absolute(rel)
        try:
            # The file's LSTAT goes out beside its folder's check; its answer counts only
            # when the folder lies inside the root.
            parent, attrs = await together(
                guard.parent(rel, create=False), lstat_or_none(sftp, path)
            )
            if parent is None or attrs is None:
                return None
            size = attrs.size or 0
            if attrs.type != asyncssh.FILEXFER_TYPE_REGULAR or size > limit:
                return None
            data = await read_small(sftp, path, size)
            if data is None:
                async with sftp.open(path, "rb") as handle:
                    data = as_bytes(await handle.read())
            return data if len(data) <= limit else None
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            return None
        except asyncssh.SFTPError as exc:
            raise sftp_error(exc, path, host=self.label, user=self.user, action="read") from None

    async def manifest(self, root: str, ignore: Iterable[str] = ()) -> dict[str, FileEntry]:
        """sha256, size and mode of every regular file under ``root`` that is not ignored."""
        patterns = tuple(ignore)
        async with self.pool.sftp(self.target) as sftp:
            real_root = await self.resolve_root(sftp, root)
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
                stderr, root, host=self.label, user=self.user, action="read"
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
            real_root = await self.resolve_root(sftp, root)
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
                while data := as_bytes(await handle.read(_CHUNK)):
                    digest.update(data)
                    size += len(data)
        except asyncssh.SFTPError as exc:
            raise sftp_error(exc, path, host=self.label, user=self.user, action="read") from None
        return digest.hexdigest(), size

    async def free_space(self, root: str) -> int:
        """Bytes available to the login user on the file system holding ``root``."""
        async with self.pool.sftp(self.target) as sftp:
            real_root = await self.resolve_root(sftp, root)
            return await self.free_bytes(sftp, real_root)

    async def checked_manifest(
        self,
        root: str,
        ignore: Iterable[str],
        known: dict[str, Known],
        previous: CheckedTree | None = None,
    ) -> CheckedTree:
        return await quickcheck.checked_manifest(self, root, ignore, known, previous)

    async def file_stats(
        self, root: str, ignore: Iterable[str], paths: Sequence[str] | None = None
    ) -> dict[str, FileStat] | None:
        patterns = tuple(ignore)
        if paths is None:
            command = quickcheck.stat_command(root, patterns)
        else:
            command = quickcheck.paths_stat_command(root, check_root(root), paths)
        result = await self.run_raw(command)
        if result.exit_status != 0:
            return None
        return quickcheck.parse_stats(result.stdout, patterns)

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
            real_root = await self.real_root(root)
            try:
                sent = await streamed.upload_streamed(self, root, real_root, targets, files)
            except streamed.StreamUnsupported as exc:
                log.info("%s cannot take a tar stream (%s); uploading over SFTP", self.label, exc)
            else:
                return UploadResult(tuple(targets), sent)
        each = await upload_over_sftp(self, root, targets, files, parallel=parallel)
        stats = {
            rel: stat
            for rel, item, size in zip(targets, files, each, strict=True)
            if (stat := uploaded_stat(item, size)) is not None
        }
        return UploadResult(tuple(targets), sum(each), stats)

    async def _upload_without_stream(self, root: str, files: Sequence[UploadFile]) -> UploadResult:
        return await self.upload(root, files, stream=False)

    async def stage_upload(self, root: str, files: Sequence[UploadFile]) -> StagedUpload | None:
        return await StagedUpload.start(self, root, files, self._upload_without_stream)

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
        removed = []
        async with self.pool.sftp(self.target) as sftp:
            guard = self.guard(sftp, await self.resolve_root(sftp, root))
            for rel in targets:
                self.fence.check("remove")
                if await guard.parent(rel, create=False) is None:
                    continue
                if await archives.remove_file(self, sftp, guard.absolute(rel)):
                    removed.append(rel)
        return removed

    # -- files beside the tree, and archives (see :mod:`.archives`) --------------------
    async def private_dir(self, path: str) -> str:
        return await archives.private_dir(self, path)

    async def existing(self, root: str, paths: Sequence[str]) -> Existing:
        return await archives.existing(self, root, paths)

    async def pack(self, real_root: str, paths: Sequence[str], archive: str) -> Packed:
        return await archives.pack(self, real_root, paths, archive)

    async def unpack(self, archive: str, real_root: str, paths: Sequence[str]) -> None:
        await archives.unpack(self, archive, real_root, paths)

    async def digest(self, path: str) -> str:
        return await archives.digest(self, path)

    async def rename(self, source: str, dest: str) -> None:
        await archives.rename(self, source, dest)

    async def write_private(self, path: str, data: bytes) -> None:
        await archives.write_private(self, path, data)

    async def list_dir(self, path: str) -> list[str]:
        return await archives.list_dir(self, path)

    async def read_many(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        return await archives.read_many(self, paths)

    async def delete(self, paths: Iterable[str]) -> None:
        await archives.delete(self, paths)

    async def remove_empty_dirs(self, real_root: str, dirs: Iterable[str]) -> tuple[str, ...]:
        return await archives.remove_empty_dirs(self, real_root, dirs)
