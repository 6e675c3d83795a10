"""A big upload sent ahead: streamed into a staging directory while the backup is taken.

The stream changes nothing under the root except its own staging directory (which every
manifest skips), so it may start before the backup exists; only :meth:`StagedUpload.finish`,
called once the backup is verified and recorded, renames files into place. Whatever
stops the deployment before that (a failed backup, a cancellation, a lost lease) calls
:meth:`StagedUpload.abandon`, which stops the stream and removes the staging directory.
A deployer killed meanwhile leaves the directory; a resumed run removes it with
:meth:`.host.SSHHost.remove_temporaries` before anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence

from hearth_deployer.remote import streamed
from hearth_deployer.remote.confine import check_root, confine
from hearth_deployer.remote.port import UploadFile, UploadResult, total_size
from hearth_deployer.remote.session import SSHSession

#: Uploads ``files`` under ``root`` without a stream: the fallback for a host whose tar
#: cannot take one.
Fallback = Callable[[str, Sequence[UploadFile]], Awaitable[UploadResult]]

log = logging.getLogger(__name__)

#: How long an abandoned stream may take to end before it is cut.
ABANDON_WAIT_S = 30.0


class StagedUpload:
    """Create with :meth:`start`; then exactly one of :meth:`finish` or :meth:`abandon`."""

    def __init__(
        self,
        host: SSHSession,
        root: str,
        real_root: str,
        targets: Sequence[str],
        files: Sequence[UploadFile],
        *,
        fallback: Fallback,
    ) -> None:
        self.host, self.root, self.real_root = host, root, real_root
        self._fallback = fallback
        self.targets, self.files = list(targets), list(files)
        self.staging = streamed.staging_path(real_root)
        self._stop = threading.Event()
        self._abandoned = False
        self._sending = asyncio.create_task(
            streamed.send_to_staging(
                host, root, self.staging, self.targets, self.files, stop=self._stop
            ),
            name="staged-upload",
        )

    @classmethod
    async def start(
        cls, host: SSHSession, root: str, files: Sequence[UploadFile], fallback: Fallback
    ) -> StagedUpload | None:
        """Begin streaming ``files`` into a staging directory; None when the upload is too
        small to stream (upload it with :meth:`.host.SSHHost.upload` then)."""
        check_root(root)
        targets = [confine(item.path, root) for item in files]
        if not files or len(set(targets)) != len(targets):
            return None  # SSHHost.upload reports a duplicate path itself
        if await asyncio.to_thread(total_size, files) < streamed.STREAM_MIN_BYTES:
            return None
        async with host.pool.sftp(host.target) as sftp:
            real_root = await host.resolve_root(sftp, root)
        return cls(host, root, real_root, targets, files, fallback=fallback)

    async def finish(self) -> UploadResult:
        """Wait for the stream, then rename every file into place (the upload proper)."""
        removed = False
        try:
            try:
                sent = await self._sending
            except streamed.StreamUnsupported as exc:
                log.info(
                    "%s cannot take a tar stream (%s); uploading over SFTP", self.host.label, exc
                )
                return await self._fallback(self.root, self.files)
            removed = await streamed.place_staged(
                self.host, self.real_root, self.staging, self.targets
            )
            return UploadResult(tuple(self.targets), sent)
        finally:
            if not removed:
                await streamed.remove_staging(self.host, self.staging)

    async def abandon(self) -> None:
        """Stop the stream and remove what it staged; nothing under the root changed.

        The stream is ended, not cut: the remote ``tar`` sees its archive end, fails and
        exits, and only then is the staging directory removed, so no late write (or a
        ``mkdir`` that started late) can leave it behind. A host that does not answer
        within ``ABANDON_WAIT_S`` has its stream cut instead. Once done, again is nothing."""
        if self._abandoned:
            return
        self._stop.set()
        try:
            async with asyncio.timeout(ABANDON_WAIT_S):
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._sending)
        except TimeoutError:
            self._sending.cancel()
            with contextlib.suppress(BaseException):
                await self._sending
        await streamed.remove_staging(self.host, self.staging)
        self._abandoned = True
