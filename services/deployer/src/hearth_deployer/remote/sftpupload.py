"""Uploading files over one SFTP channel, each atomically: written to a temporary name
beside it, synced, then renamed over the old one, so a reader sees the old or the new
file, whole."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Sequence

import asyncssh

from hearth_deployer.remote.confine import TEMP_PREFIX, DirectoryGuard
from hearth_deployer.remote.errors import RemoteError
from hearth_deployer.remote.port import UploadFile
from hearth_deployer.remote.session import SSHSession
from hearth_deployer.remote.sftperrors import sftp_error, write_error
from hearth_deployer.remote.sftpio import (
    ONE_REQUEST_BYTES,
    attributes,
    fsync_or_skip,
    write_small,
)
from hearth_deployer.remote.together import every

log = logging.getLogger(__name__)

#: Bytes of a local file read per SFTP write call: asyncssh splits each call into many
#: write requests in flight at once, so a big file streams instead of waiting per block.
#: With ``parallel`` files in flight, at most ``parallel`` of these are held in memory.
UPLOAD_CHUNK = 2 * 1024 * 1024


async def upload_over_sftp(
    session: SSHSession,
    root: str,
    targets: Sequence[str],
    files: Sequence[UploadFile],
    *,
    parallel: int,
) -> list[int]:
    """Place ``files`` at ``targets`` (confined, relative) under ``root``; the bytes sent
    for each. A file with an ``mtime`` is stamped with it."""
    async with session.pool.sftp(session.target) as sftp:
        real_root = await session.resolve_root(sftp, root)
        guard = session.guard(sftp, real_root)
        slots = asyncio.Semaphore(parallel)

        async def one(rel: str, item: UploadFile) -> int:
            async with slots:
                return await _upload_one(session, sftp, guard, rel, item)

        # Raised inside the session: the pool drops a connection whose session ended.
        return await every(one(rel, item) for rel, item in zip(targets, files, strict=True))


async def _upload_one(
    session: SSHSession,
    sftp: asyncssh.SFTPClient,
    guard: DirectoryGuard,
    rel: str,
    item: UploadFile,
) -> int:
    parent = await guard.parent(rel, create=True)
    assert parent is not None  # create=True makes every missing directory
    final = guard.absolute(rel)
    temporary = f"{parent}/{TEMP_PREFIX}{secrets.token_hex(8)}"
    host, user, fence = session.label, session.user, session.fence
    size = len(item.data) if item.data is not None else await _local_size(item)
    small = await _small_data(item, size)
    fence.check("upload")
    try:
        # Without asyncssh's parallel writer (block_size=0) each call below sends its
        # request before it first waits: what is sent together leaves together.
        handle = await sftp.open(
            temporary,
            "wb",
            asyncssh.SFTPAttrs(permissions=0o600),
            block_size=0 if small is not None else -1,
        )
    except asyncssh.SFTPError as exc:
        raise sftp_error(exc, final, host=host, user=user, action="write") from None
    written = 0
    try:
        if small is not None:
            await write_small(handle, small, mode=item.mode, mtime=item.mtime, fsync=True)
            written = len(small)
        else:
            try:
                async for offset, chunk in _chunks(item):
                    await handle.write(chunk, offset)
                    written += len(chunk)
                # The requested mode exactly, whatever the server's umask; the time after
                # the last write, which is the last to change it.
                await handle.setstat(attributes(item.mode, item.mtime))
                await fsync_or_skip(handle)
            finally:
                await handle.close()
        fence.check("upload")
        await sftp.posix_rename(temporary, final)
    except asyncssh.SFTPError as exc:
        free = await _free_bytes_or_none(session, sftp, parent)
        await _remove_quietly(session, sftp, temporary)
        raise write_error(
            exc, final, host=host, user=user, needed_bytes=size - written, free_bytes=free
        ) from None
    except BaseException:
        await _remove_quietly(session, sftp, temporary)
        raise
    return written


async def _small_data(item: UploadFile, size: int) -> bytes | None:
    """The file's bytes when one ``WRITE`` carries it whole; None for a bigger one."""
    if size > ONE_REQUEST_BYTES:
        return None
    if item.data is not None:
        return item.data
    assert item.source is not None
    data = await asyncio.to_thread(item.source.read_bytes)
    return data if len(data) <= ONE_REQUEST_BYTES else None


async def _free_bytes_or_none(
    session: SSHSession, sftp: asyncssh.SFTPClient, path: str
) -> int | None:
    try:
        return await session.free_bytes(sftp, path)
    except RemoteError:
        return None


async def _remove_quietly(session: SSHSession, sftp: asyncssh.SFTPClient, path: str) -> None:
    if not session.fence.valid():
        return  # not ours to touch any more: the next holder removes temporaries
    try:
        await sftp.remove(path)
    except asyncssh.SFTPError:
        log.debug("could not remove %s on %s", path, session.label)


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
