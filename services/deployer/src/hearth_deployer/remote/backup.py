"""Backups on the target itself: a verified tar.gz per deployment, and exact restores.

Layout in the backup directory (which must lie outside the root it backs up):
``<id>.tar.gz`` and ``<id>.json``. The JSON is written last, after the archive was verified
and renamed into place, so a backup is listed only once it is complete; pruning deletes the
JSON first for the same reason.

A restore extracts into a staging directory *inside* the root (same file system), then
renames every file into place: each file is replaced atomically, never truncated.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncssh

from hearth_deployer.remote.confine import (
    STAGING_PREFIX,
    TEMP_PREFIX,
    DirectoryGuard,
    check_root,
    confine,
    within,
)
from hearth_deployer.remote.errors import (
    BackupCorrupt,
    PathOutsideRoot,
    RemoteCommandFailed,
    RemoteError,
    RemotePathError,
)
from hearth_deployer.remote.renames import rename_into_place
from hearth_deployer.remote.sftperrors import command_error, sftp_error

if TYPE_CHECKING:
    from hearth_deployer.remote.host import RemoteHost

log = logging.getLogger(__name__)

_BACKUP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_CHECKS_IN_FLIGHT = 32


@dataclass(frozen=True)
class BackupInfo:
    backup_id: str
    #: Absolute path of the archive on the target.
    archive: str
    sha256: str
    size: int
    file_count: int
    #: Files in the archive, relative to ``root``.
    files: tuple[str, ...]
    #: Paths asked for that did not exist: a restore deletes them.
    absent: tuple[str, ...]
    root: str
    created_at: str
    #: Directories that did not exist either, deepest first: a restore removes them if
    #: the deployment left them empty.
    absent_dirs: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> BackupInfo:
        return cls.from_dict(json.loads(data))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BackupInfo:
        """From its JSON form (lists for tuples); backups older than ``absent_dirs`` have none."""
        return cls(
            **{
                **raw,
                "files": tuple(raw["files"]),
                "absent": tuple(raw["absent"]),
                "absent_dirs": tuple(raw.get("absent_dirs", ())),
            }
        )


@dataclass(frozen=True)
class RestoreResult:
    restored: tuple[str, ...]
    removed: tuple[str, ...]
    removed_dirs: tuple[str, ...] = ()


def _archive_paths(dest_dir: str, backup_id: str) -> tuple[str, str]:
    return f"{dest_dir}/{backup_id}.tar.gz", f"{dest_dir}/{backup_id}.json"


async def take_backup(
    host: RemoteHost,
    root: str,
    paths: Iterable[str] | None,
    dest_dir: str,
    backup_id: str,
    *,
    ignore: Iterable[str] = (),
    keep: int | None = 10,
) -> BackupInfo:
    """Archive ``paths`` (or every managed file) under ``root`` into ``dest_dir``.

    Each channel is released before the next is opened: holding an SFTP session while
    waiting for a command slot could deadlock a busy connection.
    """
    if not _BACKUP_ID.match(backup_id):
        raise ValueError(f"backup id {backup_id!r}: use letters, digits, '.', '_' and '-'")
    root = check_root(root)
    dest_dir = check_root(dest_dir)
    user = host.target.user
    host.fence.check("backup")
    requested = None if paths is None else sorted({confine(p, root) for p in paths})
    if requested is None:
        requested = sorted(await host.manifest(root, ignore))
    async with host.pool.sftp(host.target) as sftp:
        real_root = await host.real_root(sftp, root)
        real_dest = await _prepare_dest(host, sftp, dest_dir)
        if within(real_dest, real_root):
            raise RemotePathError(
                f"the backup directory {dest_dir} lies inside {root}: choose one outside it, "
                "or every backup would be backed up and deployed over",
                path=dest_dir,
            )
        guard = DirectoryGuard(sftp, real_root, host=host.label, user=user)
        present, absent, absent_dirs = await _split_existing(host, sftp, guard, requested)
    archive, metadata = _archive_paths(real_dest, backup_id)
    partial = f"{archive}.partial"
    sha256, size, listed = await _write_archive(host, real_root, partial, present)
    if listed != len(present):
        await host.run_raw(f"rm -f -- {shlex.quote(partial)}")
        raise BackupCorrupt(
            partial,
            host=host.label,
            why=f"it lists {listed} entries, {len(present)} files were archived",
        )
    info = BackupInfo(
        backup_id=backup_id,
        archive=archive,
        sha256=sha256,
        size=size,
        file_count=len(present),
        files=tuple(present),
        absent=tuple(absent),
        root=real_root,
        created_at=datetime.now(UTC).isoformat(),
        absent_dirs=absent_dirs,
    )
    host.fence.check("backup")
    async with host.pool.sftp(host.target) as sftp:
        try:
            await sftp.posix_rename(partial, archive)
        except asyncssh.SFTPError as exc:
            raise sftp_error(exc, archive, host=host.label, user=user, action="write") from None
        await _write_atomically(host, sftp, metadata, info.to_json())
    if keep is not None:
        await prune_backups(host, dest_dir, keep)
    return info


async def _prepare_dest(host: RemoteHost, sftp: asyncssh.SFTPClient, dest_dir: str) -> str:
    try:
        # Private: a backup of a Home Assistant config holds secrets.yaml.
        await sftp.makedirs(dest_dir, asyncssh.SFTPAttrs(permissions=0o700), exist_ok=True)
        return await sftp.realpath(dest_dir)
    except asyncssh.SFTPError as exc:
        raise sftp_error(
            exc, dest_dir, host=host.label, user=host.target.user, action="create"
        ) from None


async def _split_existing(
    host: RemoteHost, sftp: asyncssh.SFTPClient, guard: DirectoryGuard, paths: list[str]
) -> tuple[list[str], list[str], tuple[str, ...]]:
    """Which of ``paths`` exist, which do not, and which of their directories do not.

    The checks run with many requests in flight on the one SFTP channel: a first
    deployment asks about every file of the tree, and one round trip each adds up."""
    slots = asyncio.Semaphore(_CHECKS_IN_FLIGHT)

    async def check(rel: str) -> list[str] | None:
        """None when ``rel`` exists; else its missing directories (maybe none)."""
        async with slots:
            missing = await guard.missing_parents(rel)
            if missing:
                return missing
            try:
                attrs = await sftp.lstat(guard.absolute(rel))
            except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
                return []
            except asyncssh.SFTPError as exc:
                raise sftp_error(
                    exc, rel, host=host.label, user=host.target.user, action="read"
                ) from None
            if attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
                raise RemotePathError(f"{rel} on {host.label} is a directory, not a file", path=rel)
            return None

    found = await asyncio.gather(*(check(rel) for rel in paths))
    present, absent, absent_dirs = [], [], set()
    for rel, missing in zip(paths, found, strict=True):
        if missing is None:
            present.append(rel)
        else:
            absent.append(rel)
            absent_dirs.update(missing)
    deepest_first = sorted(absent_dirs, key=lambda d: (-d.count("/"), d))
    return present, absent, tuple(deepest_first)


async def _write_archive(
    host: RemoteHost, real_root: str, partial: str, files: list[str]
) -> tuple[str, int, int]:
    """Write and re-read the archive; returns its sha256, size and number of entries."""
    quoted = shlex.quote(partial)
    script = (
        "set -e; umask 077; "
        f"cd -- {shlex.quote(real_root)}; "
        f"tar -czf {quoted} --no-recursion --null -T -; "
        f"sha256sum < {quoted}; "
        f"stat -c %s -- {quoted}; "
        # escape quoting keeps one line per entry, whatever the names contain
        f"tar -tzf {quoted} --quoting-style=escape"
    )
    stdin = b"".join(path.encode() + b"\0" for path in files)
    result = await host.run_raw(script, stdin=stdin)
    stderr = result.stderr.decode("utf-8", "replace")
    if result.exit_status != 0:
        await host.run_raw(f"rm -f -- {quoted}")
        raise command_error(
            stderr, partial, host=host.label, user=host.target.user, action="write"
        ) or RemoteCommandFailed(
            "tar (backup)", host=host.label, exit_status=result.exit_status, stderr=stderr
        )
    lines = result.stdout.decode("utf-8", "replace").split("\n")
    sha256 = lines[0].split()[0]
    size = int(lines[1])
    listed = sum(1 for line in lines[2:] if line)
    return sha256, size, listed


async def _write_atomically(
    host: RemoteHost, sftp: asyncssh.SFTPClient, path: str, data: bytes
) -> None:
    directory, name = path.rsplit("/", 1)
    temporary = f"{directory}/{TEMP_PREFIX}{name}"
    try:
        async with sftp.open(temporary, "wb", asyncssh.SFTPAttrs(permissions=0o600)) as handle:
            await handle.write(data)
        await sftp.posix_rename(temporary, path)
    except asyncssh.SFTPError as exc:
        raise sftp_error(
            exc, path, host=host.label, user=host.target.user, action="write"
        ) from None


async def list_backups(host: RemoteHost, dest_dir: str) -> list[BackupInfo]:
    """Complete backups in ``dest_dir``, newest first."""
    dest_dir = check_root(dest_dir)
    backups = []
    async with host.pool.sftp(host.target) as sftp:
        try:
            names = await sftp.listdir(dest_dir)
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            return []
        except asyncssh.SFTPError as exc:
            raise sftp_error(
                exc, dest_dir, host=host.label, user=host.target.user, action="list"
            ) from None
        for name in names:
            if not name.endswith(".json") or name.startswith(TEMP_PREFIX):
                continue
            try:
                async with sftp.open(f"{dest_dir}/{name}", "rb") as handle:
                    data: object = await handle.read()
                backups.append(BackupInfo.from_json(data if isinstance(data, bytes) else b""))
            except (asyncssh.SFTPError, ValueError, KeyError, TypeError):
                continue  # not one of ours, or a leftover: never fatal for listing
    return sorted(backups, key=lambda b: b.created_at, reverse=True)


async def prune_backups(host: RemoteHost, dest_dir: str, keep: int) -> list[str]:
    """Delete all but the ``keep`` newest backups; returns the deleted ids."""
    if keep < 1:
        raise ValueError("keep at least one backup")
    old = (await list_backups(host, dest_dir))[keep:]
    async with host.pool.sftp(host.target) as sftp:
        for backup in old:
            host.fence.check("prune backups")
            archive, metadata = _archive_paths(check_root(dest_dir), backup.backup_id)
            for path in (metadata, archive):
                try:
                    await sftp.remove(path)
                except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
                    pass
                except asyncssh.SFTPError as exc:
                    raise sftp_error(
                        exc, path, host=host.label, user=host.target.user, action="delete"
                    ) from None
    return [backup.backup_id for backup in old]


async def load_backup(host: RemoteHost, dest_dir: str, backup_id: str) -> BackupInfo:
    for backup in await list_backups(host, dest_dir):
        if backup.backup_id == backup_id:
            return backup
    raise RemotePathError(
        f"backup {backup_id} not found in {dest_dir} on {host.label}", path=dest_dir
    )


async def restore_backup(
    host: RemoteHost, root: str, backup: BackupInfo, *, touched: Iterable[str] = ()
) -> RestoreResult:
    """Put back exactly the backed-up files, and delete what the deployment added.

    ``touched`` lists every path the deployment wrote or deleted; those absent from the
    backup did not exist before, so they go. The result is byte-identical to the tree the
    backup was taken from, for everything the deployment touched.
    """
    root = check_root(root)
    _check_listed_paths(host, root, backup)
    await _verify_archive(host, backup)
    await host.fence.confirm("restore")
    user = host.target.user
    async with host.pool.sftp(host.target) as sftp:
        real_root = await host.real_root(sftp, root)
    staging = f"{real_root}/{STAGING_PREFIX}{secrets.token_hex(6)}"
    extract = (
        f"mkdir -m 700 -- {shlex.quote(staging)} && "
        f"tar -xzpf {shlex.quote(backup.archive)} -C {shlex.quote(staging)}"
    )
    try:
        result = await host.run_raw(extract)
        if result.exit_status != 0:
            stderr = result.stderr.decode("utf-8", "replace")
            raise command_error(
                stderr, root, host=host.label, user=user, action="write"
            ) or RemoteCommandFailed(
                "tar (restore)", host=host.label, exit_status=result.exit_status, stderr=stderr
            )
        async with host.pool.sftp(host.target) as sftp:
            guard = DirectoryGuard(sftp, real_root, host=host.label, user=user)
            await rename_into_place(
                sftp, guard, staging, backup.files, host=host.label, user=user, fence=host.fence
            )
            keep = set(backup.files)
            extra = sorted({confine(p, root) for p in (*touched, *backup.absent)} - keep)
            removed = await host.remove_with(sftp, guard, extra)
            removed_dirs = await _remove_empty_dirs(sftp, real_root, backup.absent_dirs)
    finally:
        await _remove_staging(host, staging)
    return RestoreResult(tuple(backup.files), tuple(removed), removed_dirs)


def _check_listed_paths(host: RemoteHost, root: str, backup: BackupInfo) -> None:
    """Refuse a backup whose JSON lists a path that is not a normalised path under the root.

    The JSON lies on the target and anyone who can write there could edit it: a listed
    ``../x`` would rename a file out of the root, or a restore would delete outside it.
    Only the form ``take_backup`` writes is accepted, before anything is touched."""
    for listed in (*backup.files, *backup.absent, *backup.absent_dirs):
        try:
            normal = confine(listed, root)
        except PathOutsideRoot:
            normal = None
        if normal != listed:
            raise BackupCorrupt(
                backup.archive,
                host=host.label,
                why=f"its list names {listed!r}, which is not a path inside {root}; "
                "nothing was restored (delete this backup or restore it by hand)",
            )


async def _remove_empty_dirs(
    sftp: asyncssh.SFTPClient, real_root: str, directories: Iterable[str]
) -> tuple[str, ...]:
    """rmdir each directory, deepest first; one that is missing or not empty stays as it is
    (someone else put a file there, and it is not ours to delete)."""
    removed = []
    for rel in directories:
        try:
            await sftp.rmdir(f"{real_root}/{rel}")
        except asyncssh.SFTPError:
            continue
        removed.append(rel)
    return tuple(removed)


async def _remove_staging(host: RemoteHost, staging: str) -> None:
    # Logged, not raised: it must not hide the error that ended the restore, and the
    # manifest skips a leftover staging directory anyway.
    if not host.fence.valid():
        return  # not ours to touch any more: the next holder removes staging directories
    try:
        result = await host.run_raw(f"rm -rf -- {shlex.quote(staging)}")
    except RemoteError as exc:
        log.warning("could not remove %s on %s: %s", staging, host.label, exc)
        return
    if result.exit_status != 0:
        log.warning("could not remove %s on %s: %s", staging, host.label, result.stderr[-200:])


async def _verify_archive(host: RemoteHost, backup: BackupInfo) -> None:
    result = await host.run_raw(f"sha256sum < {shlex.quote(backup.archive)}")
    if result.exit_status != 0:
        raise BackupCorrupt(
            backup.archive,
            host=host.label,
            why=result.stderr.decode("utf-8", "replace").strip() or "cannot read it",
        )
    got = result.stdout.decode().split()[0] if result.stdout.strip() else ""
    if got != backup.sha256:
        raise BackupCorrupt(
            backup.archive, host=host.label, why=f"sha256 is {got}, expected {backup.sha256}"
        )
