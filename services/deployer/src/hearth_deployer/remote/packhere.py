"""A small backup packed in the deployer, from files read over SFTP: no command on the host.

The host's ``tar`` (:func:`.archives.pack`) costs it a shell, ``tar`` and ``gzip`` twice,
``sha256sum`` and ``stat``: seven processes for a one-file change, most of what a fan-out
asked of each host. A backup of a few small regular files is read here instead, packed
into the same ``tar.gz`` the host's ``tar -xzpf`` restores (each file's bytes, mode,
owner and modification time; GNU format, numeric owners), written, synced and read back
in one round trip (its ``OPEN`` sent with the files' first requests), and listed again
from what was read back: four round trips, where the host's ``tar`` took three.

Anything else goes to the host's ``tar``, which says what is wrong in its own words: a
symlink or anything not a regular file, a file too big for one ``READ``, more than
:data:`PACK_HERE_FILES` files, a file that changed size meanwhile, any SFTP error but a
lost session. Two paths that are hard links of one file are packed as two files (SFTP
version 3 shows no inode); a restore renames each into place, so either way each path
gets its backed-up bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import io
import stat
import tarfile
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

import asyncssh

from hearth_deployer.remote.errors import BackupCorrupt
from hearth_deployer.remote.port import Packed, backups_in
from hearth_deployer.remote.session import SSHSession
from hearth_deployer.remote.sftperrors import SESSION_LOST, sftp_error
from hearth_deployer.remote.sftpio import ONE_REQUEST_BYTES, as_bytes, fsync_or_skip, read_small
from hearth_deployer.remote.together import every, together

#: At most this many files, together at most one ``READ``'s worth of bytes, are packed
#: here; a bigger backup is packed by the host's ``tar``, where the bytes already are.
PACK_HERE_FILES = 16
PACK_HERE_BYTES = ONE_REQUEST_BYTES
#: ``tar -czf`` compresses with gzip's default level.
_GZIP_LEVEL = 6


class _NotHere(Exception):
    """The backup is not one to pack here: the host's ``tar`` packs it."""


@dataclass(frozen=True)
class _Read:
    name: str
    attrs: asyncssh.SFTPAttrs
    data: bytes


async def pack_here(
    session: SSHSession, real_root: str, paths: Sequence[str], archive: str
) -> Packed | None:
    """The archive written at ``archive`` with its sha256, size, entries and the
    backups beside it; None when it is not one to pack here (the host's ``tar`` then
    writes the archive, over the empty file this may have opened)."""
    if len(paths) > PACK_HERE_FILES:
        return None
    folder = archive.rsplit("/", 1)[0] or "/"
    async with session.pool.sftp(session.target) as sftp:
        try:
            (data, back), listed = await together(
                _read_and_write(sftp, real_root, paths, archive), sftp.listdir(folder)
            )
            if back != data:
                await _remove_quietly(sftp, archive)
                why = f"it read back other than written ({len(back)} of {len(data)} bytes)"
                raise BackupCorrupt(archive, host=session.label, why=why)
        except _NotHere:
            return None
        except SESSION_LOST as exc:
            raise sftp_error(
                exc, archive, host=session.label, user=session.user, action="write"
            ) from None
        except asyncssh.SFTPError:
            await _remove_quietly(sftp, archive)
            return None  # the host's tar tries, and says what is wrong in its words
    names = tuple(map(str, listed))
    return Packed(
        hashlib.sha256(back).hexdigest(),
        len(back),
        entries(back),
        beside=backups_in(names),
        listed=names,
    )


async def _read_and_write(
    sftp: asyncssh.SFTPClient, root: str, paths: Sequence[str], archive: str
) -> tuple[bytes, bytes]:
    """The archive built and what reads back of it once written. Its ``OPEN`` needs
    nothing read, so it goes out with the files' first requests: four round trips in
    all, the folder's listing beside them."""
    read, opened = await asyncio.gather(
        _read_all(sftp, root, paths),
        sftp.open(archive, "w+b", asyncssh.SFTPAttrs(permissions=0o600), block_size=0),
        return_exceptions=True,
    )
    if isinstance(opened, BaseException):
        raise read if isinstance(read, BaseException) else opened
    try:
        if isinstance(read, BaseException):
            raise read
        data = build_archive(read)
        if len(data) > ONE_REQUEST_BYTES:
            raise _NotHere
    except BaseException:
        with contextlib.suppress(asyncssh.SFTPError):
            await opened.close()  # an empty archive stays: the host's tar writes it over
        raise
    return data, await _write_and_read_back(opened, data)


async def _read_all(sftp: asyncssh.SFTPClient, root: str, paths: Sequence[str]) -> list[_Read]:
    files = await every(_read_one(sftp, root, name) for name in paths)
    if sum(len(f.data) for f in files) > PACK_HERE_BYTES:
        raise _NotHere
    return files


async def _read_one(sftp: asyncssh.SFTPClient, root: str, name: str) -> _Read:
    """The file's own attributes (``LSTAT``), then its bytes (``OPEN``; ``READ`` beside
    ``CLOSE``). Only a regular file is opened: opening a FIFO, or a symlink to one, would
    block the host's SFTP server, and every request after it. A symlink, anything not a
    regular file, or a file too big or changed meanwhile is not packed here."""
    path = f"{root}/{name}"
    looked = await sftp.lstat(path)
    size = looked.size or 0
    if looked.type != asyncssh.FILEXFER_TYPE_REGULAR or size > PACK_HERE_BYTES:
        raise _NotHere
    data = await read_small(sftp, path, size)
    if data is None:
        raise _NotHere  # it changed since its LSTAT: the host's tar reads it whole
    return _Read(name, looked, data)


def build_archive(files: Sequence[_Read]) -> bytes:
    """A ``tar.gz`` of ``files``, as ``tar -czf --no-recursion`` of their names makes
    it: one regular entry each, the mode's twelve bits, numeric owner, whole-second
    modification time."""
    out = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=_GZIP_LEVEL, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for file in files:
            info = tarfile.TarInfo(file.name)
            info.size = len(file.data)
            info.mode = stat.S_IMODE(file.attrs.permissions or 0)
            info.uid, info.gid = file.attrs.uid or 0, file.attrs.gid or 0
            info.uname = info.gname = ""
            info.mtime = file.attrs.mtime or 0
            tar.addfile(info, io.BytesIO(file.data))
    return out.getvalue()


def entries(archive: bytes) -> int:
    """How many entries ``archive`` lists, read as ``tar -tzf`` reads it; -1 when it
    cannot be read (the caller refuses it: it lists not what was archived)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            return len(tar.getmembers())
    except (tarfile.TarError, OSError, EOFError):
        return -1


async def _write_and_read_back(handle: asyncssh.SFTPClientFile, data: bytes) -> bytes:
    """``WRITE``, ``fsync``, ``READ`` of it all and ``CLOSE`` in one round trip: the
    server answers them in order, so the read sees what was written."""
    steps: list[Awaitable[object]] = [
        handle.write(data, 0),
        fsync_or_skip(handle),
        handle.read(len(data) + 1, 0),
        handle.close(),
    ]
    return as_bytes((await every(steps))[2])


async def _remove_quietly(sftp: asyncssh.SFTPClient, path: str) -> None:
    # Not written, or the host's tar writes it over.
    with contextlib.suppress(asyncssh.SFTPError):
        await sftp.remove(path)
