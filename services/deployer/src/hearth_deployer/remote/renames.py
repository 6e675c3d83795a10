"""Moving files from a staging directory into place: one rename each, atomic, never through
a symlink, many in flight. The restore of a backup and the streamed upload both end so."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import asyncssh

from hearth_deployer.remote.confine import DirectoryGuard
from hearth_deployer.remote.fence import Fence
from hearth_deployer.remote.sftperrors import sftp_error
from hearth_deployer.remote.together import every

RENAMES_IN_FLIGHT = 16


async def rename_into_place(
    sftp: asyncssh.SFTPClient,
    guard: DirectoryGuard,
    staging: str,
    paths: Iterable[str],
    *,
    host: str,
    user: str,
    fence: Fence,
) -> None:
    """Rename ``staging/<rel>`` to ``<root>/<rel>`` for each ``rel`` (parents created through
    ``guard``), each only while ``fence`` holds; the first failure is raised once every
    rename has ended."""
    slots = asyncio.Semaphore(RENAMES_IN_FLIGHT)

    async def place(rel: str) -> None:
        async with slots:
            fence.check("rename into place")
            await guard.parent(rel, create=True)
            final = guard.absolute(rel)
            try:
                await sftp.posix_rename(f"{staging}/{rel}", final)
            except asyncssh.SFTPError as exc:
                raise sftp_error(exc, final, host=host, user=user, action="write") from None

    await every(place(rel) for rel in paths)
