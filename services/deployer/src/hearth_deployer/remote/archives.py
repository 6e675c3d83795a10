"""The SSH adapter's files beside the tree and its archives (what backups are built of):
``tar`` and ``sha256sum`` run on the target, so a big archive never crosses the network
(a small one is packed in the deployer: :mod:`.packhere`).

An archive is extracted into a staging directory *inside* the root (same file system),
then every file is renamed into place: each file is replaced atomically, never truncated.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shlex
from collections.abc import Iterable, Sequence

import asyncssh

from hearth_deployer.remote.confine import STAGING_PREFIX, TEMP_PREFIX, DirectoryGuard
from hearth_deployer.remote.errors import RemoteCommandFailed, RemoteError, RemotePathError
from hearth_deployer.remote.packhere import pack_here
from hearth_deployer.remote.port import Existing, Packed
from hearth_deployer.remote.renames import rename_into_place
from hearth_deployer.remote.session import SSHSession
from hearth_deployer.remote.sftperrors import SESSION_LOST, command_error, sftp_error
from hearth_deployer.remote.sftpio import (
    ONE_REQUEST_BYTES,
    as_bytes,
    lstat_or_none,
    real_and_stat,
    write_small,
)
from hearth_deployer.remote.together import together

log = logging.getLogger(__name__)

_CHECKS_IN_FLIGHT = 32


async def private_dir(session: SSHSession, path: str) -> str:
    async with session.pool.sftp(session.target) as sftp:
        found = await _existing_dir(sftp, path)
        if found is not None:
            return found  # as makedirs(exist_ok) would: an existing folder keeps its mode
        try:
            # Private: a backup of a Home Assistant config holds secrets.yaml.
            await sftp.makedirs(path, asyncssh.SFTPAttrs(permissions=0o700), exist_ok=True)
            return await sftp.realpath(path)
        except asyncssh.SFTPError as exc:
            raise sftp_error(
                exc, path, host=session.label, user=session.user, action="create"
            ) from None


async def _existing_dir(sftp: asyncssh.SFTPClient, path: str) -> str | None:
    """The real path of ``path`` when it is a folder already: two requests sent together,
    where making it asks two per component of the path."""
    try:
        real, attrs = await real_and_stat(sftp, path)
    except asyncssh.SFTPError:
        return None
    return real if attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY else None


async def existing(session: SSHSession, root: str, paths: Sequence[str]) -> Existing:
    """Which of ``paths`` exist, which do not, and which of their directories do not.

    The checks run with many requests in flight on the one SFTP channel: a first
    deployment asks about every file of the tree, and one round trip each adds up."""
    async with session.pool.sftp(session.target) as sftp:
        guard = session.guard(sftp, await session.resolve_root(sftp, root))
        slots = asyncio.Semaphore(_CHECKS_IN_FLIGHT)

        async def check(rel: str) -> list[str] | None:
            async with slots:
                return await _missing(session, sftp, guard, rel)

        found = await asyncio.gather(*(check(rel) for rel in paths))
    present, absent, absent_dirs = [], [], set()
    for rel, missing in zip(paths, found, strict=True):
        if missing is None:
            present.append(rel)
        else:
            absent.append(rel)
            absent_dirs.update(missing)
    deepest_first = sorted(absent_dirs, key=lambda d: (-d.count("/"), d))
    return Existing(present, absent, tuple(deepest_first))


async def _missing(
    session: SSHSession, sftp: asyncssh.SFTPClient, guard: DirectoryGuard, rel: str
) -> list[str] | None:
    """None when ``rel`` exists; else its missing directories (maybe none)."""
    try:
        # The file's LSTAT goes out beside its folders' check; it counts only when they
        # exist inside the root.
        missing, attrs = await together(
            guard.missing_parents(rel), lstat_or_none(sftp, guard.absolute(rel))
        )
    except asyncssh.SFTPError as exc:
        raise sftp_error(exc, rel, host=session.label, user=session.user, action="read") from None
    if missing:
        return missing
    if attrs is None:
        return []
    if attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
        raise RemotePathError(f"{rel} on {session.label} is a directory, not a file", path=rel)
    return None


async def pack(session: SSHSession, real_root: str, paths: Sequence[str], archive: str) -> Packed:
    """Write and re-read the archive; its sha256, size and number of entries. A few small
    files are packed in the deployer (:mod:`.packhere`), the rest by the host's ``tar``."""
    packed = await pack_here(session, real_root, paths, archive)
    if packed is not None:
        return packed
    quoted = shlex.quote(archive)
    folder = shlex.quote(archive.rsplit("/", 1)[0] or "/")
    script = (
        "set -e; umask 077; "
        f"cd -- {shlex.quote(real_root)}; "
        f"tar -czf {quoted} --no-recursion --null -T -; "
        f"sha256sum < {quoted}; "
        f"stat -c %s -- {quoted}; "
        # The backups beside it, counted by the shell alone (no process, no round trip).
        f'set -- {folder}/*.json; if [ -e "$1" ]; then echo $#; else echo 0; fi; '
        # escape quoting keeps one line per entry, whatever the names contain
        f"tar -tzf {quoted} --quoting-style=escape"
    )
    stdin = b"".join(path.encode() + b"\0" for path in paths)
    result = await session.run_raw(script, stdin=stdin)
    stderr = result.stderr.decode("utf-8", "replace")
    if result.exit_status != 0:
        await session.run_raw(f"rm -f -- {quoted}")
        raise command_error(
            stderr, archive, host=session.label, user=session.user, action="write"
        ) or RemoteCommandFailed(
            "tar (backup)", host=session.label, exit_status=result.exit_status, stderr=stderr
        )
    lines = result.stdout.decode("utf-8", "replace").split("\n")
    listed = sum(1 for line in lines[3:] if line)
    return Packed(lines[0].split()[0], int(lines[1]), listed, beside=int(lines[2]))


async def unpack(session: SSHSession, archive: str, real_root: str, paths: Sequence[str]) -> None:
    staging = f"{real_root}/{STAGING_PREFIX}{secrets.token_hex(6)}"
    extract = (
        f"mkdir -m 700 -- {shlex.quote(staging)} && "
        f"tar -xzpf {shlex.quote(archive)} -C {shlex.quote(staging)}"
    )
    host, user = session.label, session.user
    try:
        result = await session.run_raw(extract)
        if result.exit_status != 0:
            stderr = result.stderr.decode("utf-8", "replace")
            raise command_error(
                stderr, real_root, host=host, user=user, action="write"
            ) or RemoteCommandFailed(
                "tar (restore)", host=host, exit_status=result.exit_status, stderr=stderr
            )
        async with session.pool.sftp(session.target) as sftp:
            guard = session.guard(sftp, real_root)
            await rename_into_place(
                sftp, guard, staging, paths, host=host, user=user, fence=session.fence
            )
    finally:
        await _remove_staging(session, staging)


async def _remove_staging(session: SSHSession, staging: str) -> None:
    # Logged, not raised: it must not hide the error that ended the restore, and the
    # manifest skips a leftover staging directory anyway.
    if not session.fence.valid():
        return  # not ours to touch any more: the next holder removes staging directories
    try:
        result = await session.run_raw(f"rm -rf -- {shlex.quote(staging)}")
    except RemoteError as exc:
        log.warning("could not remove %s on %s: %s", staging, session.label, exc)
        return
    if result.exit_status != 0:
        log.warning("could not remove %s on %s: %s", staging, session.label, result.stderr[-200:])


async def digest(session: SSHSession, path: str) -> str:
    result = await session.run_raw(f"sha256sum < {shlex.quote(path)}")
    if result.exit_status != 0:
        why = result.stderr.decode("utf-8", "replace").strip() or "cannot read it"
        raise RemotePathError(why, path=path)
    return result.stdout.decode().split()[0] if result.stdout.strip() else ""


async def rename(session: SSHSession, source: str, dest: str) -> None:
    async with session.pool.sftp(session.target) as sftp:
        try:
            await sftp.posix_rename(source, dest)
        except asyncssh.SFTPError as exc:
            raise sftp_error(
                exc, dest, host=session.label, user=session.user, action="write"
            ) from None


async def write_private(session: SSHSession, path: str, data: bytes) -> None:
    directory, name = path.rsplit("/", 1)
    temporary = f"{directory}/{TEMP_PREFIX}{name}"
    async with session.pool.sftp(session.target) as sftp:
        try:
            small = len(data) <= ONE_REQUEST_BYTES
            out = await sftp.open(
                temporary,
                "wb",
                asyncssh.SFTPAttrs(permissions=0o600),
                block_size=0 if small else -1,
            )
            if small:  # the write and the close in one round trip
                await write_small(out, data, mode=None, fsync=False)
            else:
                async with out:
                    await out.write(data)
            await sftp.posix_rename(temporary, path)
        except asyncssh.SFTPError as exc:
            raise sftp_error(
                exc, path, host=session.label, user=session.user, action="write"
            ) from None


async def list_dir(session: SSHSession, path: str) -> list[str]:
    async with session.pool.sftp(session.target) as sftp:
        try:
            names = [str(name) for name in await sftp.listdir(path)]
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            return []
        except asyncssh.SFTPError as exc:
            raise sftp_error(
                exc, path, host=session.label, user=session.user, action="list"
            ) from None
    return [name for name in names if name not in (".", "..")]


async def read_many(session: SSHSession, paths: Iterable[str]) -> dict[str, bytes | None]:
    found: dict[str, bytes | None] = {}
    async with session.pool.sftp(session.target) as sftp:
        for path in paths:
            try:
                async with sftp.open(path, "rb") as handle:
                    data: object = await handle.read()
            except SESSION_LOST as exc:
                raise sftp_error(
                    exc, path, host=session.label, user=session.user, action="read"
                ) from None
            except asyncssh.SFTPError:
                found[path] = None
                continue
            found[path] = as_bytes(data)
    return found


async def delete(session: SSHSession, paths: Iterable[str]) -> None:
    async with session.pool.sftp(session.target) as sftp:
        for path in paths:
            await remove_file(session, sftp, path)


async def remove_file(session: SSHSession, sftp: asyncssh.SFTPClient, path: str) -> bool:
    """Delete one file; whether it existed."""
    try:
        await sftp.remove(path)
    except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
        return False
    except asyncssh.SFTPError as exc:
        raise sftp_error(
            exc, path, host=session.label, user=session.user, action="delete"
        ) from None
    return True


async def remove_empty_dirs(
    session: SSHSession, real_root: str, directories: Iterable[str]
) -> tuple[str, ...]:
    """rmdir each directory, deepest first; one that is missing or not empty stays as it is
    (someone else put a file there, and it is not ours to delete)."""
    removed = []
    async with session.pool.sftp(session.target) as sftp:
        for rel in directories:
            try:
                await sftp.rmdir(f"{real_root}/{rel}")
            except SESSION_LOST as exc:
                raise sftp_error(
                    exc, rel, host=session.label, user=session.user, action="delete"
                ) from None
            except asyncssh.SFTPError:
                continue
            removed.append(rel)
    return tuple(removed)
