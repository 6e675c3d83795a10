"""A big upload sent ahead: streamed into a staging directory while the backup is taken.

The stream changes nothing under the root except its own staging directory (which every
manifest skips), so it may start before the backup exists; only :meth:`StagedUpload.finish`,
called once the backup is verified and recorded, renames files into place. Whatever
stops the deployment before that (a failed backup, a cancellation, a lost lease) calls
:meth:`StagedUpload.abandon`, which stops the stream and removes the staging directory.
A deployer killed meanwhile leaves the directory; a resumed run removes it with
:meth:`RemoteHost.remove_temporaries` before anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hearth_deployer.remote import streamed
from hearth_deployer.remote.confine import check_root, confine
from hearth_deployer.remote.host import UploadFile, UploadResult, total_size

if TYPE_CHECKING:
    from hearth_deployer.remote.host import RemoteHost

log = logging.getLogger(__name__)


class StagedUpload:
    """Create with :meth:`start`; then exactly one of :meth:`finish` or :meth:`abandon`."""

    def __init__(
        self,
        host: RemoteHost,
        root: str,
        real_root: str,
        targets: Sequence[str],
        files: Sequence[UploadFile],
    ) -> None:
        self.host, self.root, self.real_root = host, root, real_root
        self.targets, self.files = list(targets), list(files)
        self.staging = streamed.staging_path(real_root)
        self._sending = asyncio.create_task(
            streamed.send_to_staging(host, root, self.staging, self.targets, self.files),
            name="staged-upload",
        )

    @classmethod
    async def start(
        cls, host: RemoteHost, root: str, files: Sequence[UploadFile]
    ) -> StagedUpload | None:
        """Begin streaming ``files`` into a staging directory; None when the upload is too
        small to stream (upload it with :meth:`RemoteHost.upload` then)."""
        check_root(root)
        targets = [confine(item.path, root) for item in files]
        if not files or len(set(targets)) != len(targets):
            return None  # RemoteHost.upload reports a duplicate path itself
        if await asyncio.to_thread(total_size, files) < streamed.STREAM_MIN_BYTES:
            return None
        async with host.pool.sftp(host.target) as sftp:
            real_root = await host.real_root(sftp, root)
        return cls(host, root, real_root, targets, files)

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
                return await self.host.upload(self.root, self.files, stream=False)
            removed = await streamed.place_staged(
                self.host, self.real_root, self.staging, self.targets
            )
            return UploadResult(tuple(self.targets), sent)
        finally:
            if not removed:
                await streamed.remove_staging(self.host, self.staging)

    async def abandon(self) -> None:
        """Stop the stream and remove what it staged; nothing under the root changed."""
        self._sending.cancel()
        with contextlib.suppress(BaseException):
            await self._sending
        await streamed.remove_staging(self.host, self.staging)
