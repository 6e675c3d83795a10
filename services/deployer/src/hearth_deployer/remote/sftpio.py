"""Small files over SFTP in as few round trips as the protocol allows.

asyncssh's own ``read()`` asks the size first (``FSTAT``) and closes after the data came
back, and a write, its mode, ``fsync`` and ``CLOSE`` each wait for their answer: four
round trips a file where two do, which a host across a slow link pays in full.

A server answers the requests on one handle in the order they came (OpenSSH's
``sftp-server`` answers every request in order), so requests that depend only on that
order may leave together. They do when the handle is opened without asyncssh's parallel
reader and writer (``block_size=0``): each call then sends its request before it first
waits, and the calls here start in the order given.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable

import asyncssh

from hearth_deployer.remote.together import every, together

#: Every SFTP server takes a ``READ`` or ``WRITE`` of this many bytes in one request (the
#: protocol's minimum packet); a bigger file goes the usual way.
ONE_REQUEST_BYTES = 32 * 1024


async def lstat_or_none(sftp: asyncssh.SFTPClient, path: str) -> asyncssh.SFTPAttrs | None:
    """The path's own attributes (a symlink's, not its target's); None when it is missing."""
    try:
        return await sftp.lstat(path)
    except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
        return None


async def real_and_stat(sftp: asyncssh.SFTPClient, path: str) -> tuple[str, asyncssh.SFTPAttrs]:
    """``path`` with its symlinks resolved, and what it leads to, asked together (``STAT``
    follows the same links ``REALPATH`` resolves): one round trip where two were."""
    return await together(sftp.realpath(path), sftp.stat(path))


async def read_small(sftp: asyncssh.SFTPClient, path: str, size: int) -> bytes | None:
    """The file's bytes when it still holds exactly ``size`` of them (as ``LSTAT`` said a
    moment ago), read in two round trips (``OPEN``; ``READ`` with ``CLOSE``); None when it
    changed size meanwhile or is too big for one ``READ`` (read it the usual way then)."""
    if size > ONE_REQUEST_BYTES:
        return None
    handle = await sftp.open(path, "rb", block_size=0)
    read, _ = await together(handle.read(size + 1, 0), handle.close())
    data = as_bytes(read)
    return data if len(data) == size else None


def as_bytes(data: object) -> bytes:
    """asyncssh types file reads as ``str``; a file opened in binary mode gives bytes."""
    return data if isinstance(data, bytes) else str(data).encode()


async def write_small(
    handle: asyncssh.SFTPClientFile,
    data: bytes,
    *,
    mode: int | None,
    fsync: bool,
    mtime: int | None = None,
) -> None:
    """``WRITE`` (data of at most :data:`ONE_REQUEST_BYTES`), then ``FSETSTAT`` with
    ``mode`` exactly (whatever the server's umask) and ``mtime``, ``fsync`` and ``CLOSE``,
    as asked, all sent together on a handle opened with ``block_size=0``: one round trip.
    Any failure among them is raised, the first in that order; the handle is closed
    either way."""
    steps: list[Awaitable[object]] = [handle.write(data, 0)]
    if mode is not None:
        steps.append(handle.setstat(attributes(mode, mtime)))
    if fsync:
        steps.append(fsync_or_skip(handle))
    steps.append(handle.close())
    await every(steps)


def attributes(mode: int, mtime: int | None) -> asyncssh.SFTPAttrs:
    """A mode, and a modification (and access) time when one is given."""
    if mtime is None:
        return asyncssh.SFTPAttrs(permissions=mode)
    return asyncssh.SFTPAttrs(permissions=mode, atime=mtime, mtime=mtime)


async def fsync_or_skip(handle: asyncssh.SFTPClientFile) -> None:
    """Flush to disk before the rename, so a power cut never leaves an empty new file.

    ``fsync@openssh.com`` is an OpenSSH extension; other servers just skip this step."""
    with contextlib.suppress(asyncssh.SFTPOpUnsupported):
        await handle.fsync()
