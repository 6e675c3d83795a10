"""A big upload as one tar stream: extracted into a staging directory inside the root,
flushed to disk, then renamed into place file by file (each file atomic, as with SFTP).

One stream moves bytes about twice as fast as one SFTP request per block and per file
operation. The archive is written on the fly from the local files (never whole in
memory); the remote ``tar`` keeps each file's exact mode (``-p``), sets mtimes to now
(``-m``) and never changes owners. The staging directory carries the restore prefix, so
every manifest skips it, and :meth:`.host.SSHHost.remove_temporaries` deletes one a killed
deployer left behind. Renames go through the same :class:`DirectoryGuard` as SFTP
uploads, so no file is ever placed through a symlink that leaves the root.
"""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
import shlex
import tarfile
import threading
import time
from collections.abc import Sequence
from typing import IO, cast

import asyncssh

from hearth_deployer.remote import openssh
from hearth_deployer.remote.confine import STAGING_PREFIX
from hearth_deployer.remote.errors import RemoteCommandFailed
from hearth_deployer.remote.manifest import command_unsupported
from hearth_deployer.remote.port import UploadFile
from hearth_deployer.remote.renames import rename_into_place
from hearth_deployer.remote.session import SSHSession
from hearth_deployer.remote.sftperrors import command_error

log = logging.getLogger(__name__)

#: Uploads at least this big go as one stream; smaller ones over SFTP.
STREAM_MIN_BYTES = 16 * 1024 * 1024
STREAM_CHUNK = 1024 * 1024


class StreamUnsupported(Exception):
    """The host's tar lacks what a streamed upload needs; upload over SFTP instead."""


class _ChannelWriter(io.RawIOBase):
    """A file object for tarfile (in a thread) that writes into an SSH channel."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stdin: asyncssh.SSHWriter[bytes]):
        self._loop = loop
        self._stdin = stdin

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        chunk = bytes(data)  # type: ignore[call-overload]

        async def send() -> None:
            self._stdin.write(chunk)
            await self._stdin.drain()

        asyncio.run_coroutine_threadsafe(send(), self._loop).result()
        return len(chunk)


class Stopped(Exception):
    """The upload was abandoned: the archive ends here, unfinished."""


class _StoppableReader:
    """A file read by tarfile that stops between two chunks once ``stop`` is set."""

    def __init__(self, source: IO[bytes], stop: threading.Event) -> None:
        self._source, self._stop = source, stop

    def read(self, size: int = -1) -> bytes:
        if self._stop.is_set():
            raise Stopped
        return self._source.read(size)


def _write_archive(
    out: IO[bytes],
    targets: Sequence[str],
    files: Sequence[UploadFile],
    stop: threading.Event | None = None,
) -> int:
    stop = stop or threading.Event()
    sent = 0
    now = time.time()
    with tarfile.open(
        fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=STREAM_CHUNK
    ) as tar:
        tar.copybufsize = STREAM_CHUNK  # type: ignore[attr-defined]
        for rel, item in zip(targets, files, strict=True):
            if stop.is_set():
                raise Stopped
            info = tarfile.TarInfo(rel)
            info.mode, info.mtime = item.mode, now
            if item.data is not None:
                info.size = len(item.data)
                tar.addfile(info, io.BytesIO(item.data))
            else:
                assert item.source is not None
                with item.source.open("rb") as source:
                    info.size = item.source.stat().st_size
                    tar.addfile(info, cast("IO[bytes]", _StoppableReader(source, stop)))
            sent += info.size
    out.flush()
    return sent


async def _send(
    host: SSHSession,
    command: str,
    targets: Sequence[str],
    files: Sequence[UploadFile],
    stop: threading.Event | None = None,
) -> tuple[int, int, str]:
    """Run ``command`` with the archive as its stdin: (exit status, bytes sent, stderr).
    Through the ``ssh`` binary when there is one (see :mod:`.openssh`), else asyncssh.
    Once ``stop`` is set the archive ends unfinished, so the remote command fails and
    exits: this returns only after it did (nothing remote writes any more)."""

    def produce(out: IO[bytes]) -> int:
        try:
            return _write_archive(out, targets, files, stop)
        except Stopped:
            return 0

    binary = openssh.ssh_binary(host.pool, host.target)
    if binary is not None:
        try:
            return await openssh.run_streamed(host.pool, host.target, binary, command, produce)
        except openssh.OpenSSHUnavailable as exc:
            log.info("ssh to %s failed (%s); streaming over asyncssh", host.label, exc)
    async with host.pool.channel(host.target) as conn:
        process = await conn.create_process(command, encoding=None)
        writer = _ChannelWriter(asyncio.get_running_loop(), process.stdin)
        buffered = cast("IO[bytes]", io.BufferedWriter(writer, buffer_size=STREAM_CHUNK))
        try:
            sent = await asyncio.to_thread(produce, buffered)
        except (BrokenPipeError, ConnectionError, asyncssh.Error):
            sent = 0  # tar stopped reading: its exit status says why
        process.stdin.write_eof()
        result = await process.wait()
    status = result.exit_status if result.exit_status is not None else -1
    return status, sent, (result.stderr or b"").decode("utf-8", "replace")  # type: ignore[union-attr]


def staging_path(real_root: str) -> str:
    """A new staging directory's path (not yet created) under ``real_root``."""
    return f"{real_root}/{STAGING_PREFIX}{secrets.token_hex(6)}"


async def send_to_staging(
    host: SSHSession,
    root: str,
    staging: str,
    targets: Sequence[str],
    files: Sequence[UploadFile],
    *,
    stop: threading.Event | None = None,
) -> int:
    """Extract ``files`` into the new directory ``staging`` and flush them to disk; bytes
    sent. Nothing outside ``staging`` changes. ``stop`` ends the stream early (abandon)."""
    host.fence.check("upload")
    quoted = shlex.quote(staging)
    # While tar extracts, a background loop starts the writeback every 0.1 s, so the one
    # durable flush after tar (the guarantee) finds little left to write. Without
    # fractional sleep or ``sync -f`` the loop just ends.
    command = (
        f"mkdir -m 700 -- {quoted} && {{ "
        f"{{ while sleep 0.1; do sync -f {quoted} 2>/dev/null || exit 0; done; }} & "
        "flusher=$!; "
        f"tar -x -p -m --no-same-owner -f - -C {quoted}; status=$?; "
        'kill "$flusher" 2>/dev/null; wait "$flusher" 2>/dev/null; '
        'if [ "$status" -ne 0 ]; then exit "$status"; fi; } && '
        f"{{ sync -f {quoted} 2>/dev/null || sync; }}"
    )
    status, sent, stderr = await _send(host, command, targets, files, stop)
    if stop is not None and stop.is_set():
        raise Stopped
    if status != 0:
        if command_unsupported(status, stderr) or "no-same-owner" in stderr:
            raise StreamUnsupported(stderr.strip())
        raise command_error(
            stderr, root, host=host.label, user=host.target.user, action="write"
        ) or RemoteCommandFailed("tar (upload)", host=host.label, exit_status=status, stderr=stderr)
    return sent


async def place_staged(
    host: SSHSession, real_root: str, staging: str, targets: Sequence[str]
) -> bool:
    """Rename each staged file into place (atomic per file, never through a symlink);
    whether the then empty staging directory could be removed as well."""
    user = host.target.user
    await host.fence.confirm("upload")
    async with host.pool.sftp(host.target) as sftp:
        guard = host.guard(sftp, real_root)
        await rename_into_place(
            sftp, guard, staging, targets, host=host.label, user=user, fence=host.fence
        )
        # Only empty directories are left: remove them on this channel, deepest first,
        # rather than with one more command (the caller's rm -rf is the fallback).
        folders = {staging}
        for rel in targets:
            parts = rel.split("/")[:-1]
            folders.update(f"{staging}/{'/'.join(parts[:n])}" for n in range(1, len(parts) + 1))
        try:
            for folder in sorted(folders, key=lambda f: (-f.count("/"), f)):
                await sftp.rmdir(folder)
        except asyncssh.SFTPError:
            return False
        return True


async def remove_staging(host: SSHSession, staging: str) -> None:
    if not host.fence.valid():
        return  # not ours to touch any more: the next holder removes staging directories
    await host.run_raw(f"rm -rf -- {shlex.quote(staging)}")


async def upload_streamed(
    host: SSHSession, root: str, real_root: str, targets: Sequence[str], files: Sequence[UploadFile]
) -> int:
    """Place ``files`` at ``targets`` (relative, confined) under ``real_root``; bytes sent."""
    staging = staging_path(real_root)
    removed = False
    try:
        sent = await send_to_staging(host, root, staging, targets, files)
        removed = await place_staged(host, real_root, staging, targets)
        return sent
    finally:
        if not removed:
            await remove_staging(host, staging)
