"""One target reached through a :class:`.pool.HostPool`, behind a fence: what the parts
of the SSH adapter (uploads, streams, archives, the quick check) share."""

from __future__ import annotations

import asyncssh

from hearth_deployer.remote.confine import DirectoryGuard, check_root
from hearth_deployer.remote.errors import RemotePathError
from hearth_deployer.remote.fence import UNFENCED, Fence
from hearth_deployer.remote.pool import HostPool, RawCommandResult
from hearth_deployer.remote.port import current_scope
from hearth_deployer.remote.sftperrors import sftp_error
from hearth_deployer.remote.sftpio import real_and_stat
from hearth_deployer.remote.target import SSHTarget


class SSHSession:
    def __init__(self, pool: HostPool, target: SSHTarget, fence: Fence = UNFENCED) -> None:
        self.pool = pool
        self.target = target
        self._fence = fence

    @property
    def label(self) -> str:
        return self.target.label

    @property
    def fence(self) -> Fence:
        return self._fence

    @property
    def user(self) -> str:
        return self.target.user

    async def run_raw(
        self, command: str, *, timeout: float | None = None, stdin: bytes | None = None
    ) -> RawCommandResult:
        return await self.pool.run_raw(self.target, command, timeout=timeout, stdin=stdin)

    async def resolve_root(self, sftp: asyncssh.SFTPClient, root: str) -> str:
        """The root with symlinks resolved; it must exist and be a directory. Within a
        :func:`.port.session_scope` (one deployment) it is asked of the host once: the
        steps of a deployment work in one real root, and each asking cost two round trips."""
        root = check_root(root)
        scope = current_scope()
        key = (self.target, root)
        if scope is not None and key in scope.roots:
            return scope.roots[key]
        real = await self._resolve_root(sftp, root)
        if scope is not None:
            scope.roots[key] = real
        return real

    async def _resolve_root(self, sftp: asyncssh.SFTPClient, root: str) -> str:
        try:
            real, attrs = await real_and_stat(sftp, root)
        except asyncssh.SFTPError as exc:
            raise sftp_error(exc, root, host=self.label, user=self.user, action="read") from None
        if attrs.type != asyncssh.FILEXFER_TYPE_DIRECTORY:
            raise RemotePathError(f"{root} on {self.label} is not a directory", path=root)
        return real

    def guard(self, sftp: asyncssh.SFTPClient, real_root: str) -> DirectoryGuard:
        return DirectoryGuard(sftp, real_root, host=self.label, user=self.user)

    async def free_bytes(self, sftp: asyncssh.SFTPClient, path: str) -> int:
        try:
            vfs = await sftp.statvfs(path)
        except asyncssh.SFTPError as exc:
            raise sftp_error(exc, path, host=self.label, user=self.user, action="inspect") from None
        return vfs.bavail * (vfs.frsize or vfs.bsize)
