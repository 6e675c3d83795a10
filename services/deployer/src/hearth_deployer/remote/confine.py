"""Keeping every remote path under the target's root, including through remote symlinks.

Two layers: the relative path itself must not be absolute or climb with ``..`` (checked
locally), and no directory on the way to it may be a symlink that leads out of the root
(checked on the target, before anything is created, because ``mkdir -p`` through such a
link would already write outside).
"""

from __future__ import annotations

import asyncio
import posixpath

import asyncssh

from hearth_deployer.domain.paths import UnsafePath, safe_relative
from hearth_deployer.remote.errors import PathOutsideRoot, RemotePathError
from hearth_deployer.remote.sftperrors import sftp_error

#: Names Hearth itself creates inside a root while it works; never managed content.
TEMP_PREFIX = ".hearth-tmp-"
STAGING_PREFIX = ".hearth-restore-"


def check_root(root: str) -> str:
    """A normalised absolute root; ``/`` is refused since it would confine nothing."""
    if not root.startswith("/"):
        raise PathOutsideRoot(root, "/", "the remote root must be an absolute path")
    normal = posixpath.normpath(root)
    if normal in ("/", "//"):
        raise PathOutsideRoot(root, "/", "the remote root cannot be / itself")
    return normal


def confine(path: str, root: str) -> str:
    """The normalised relative form of ``path``; refuses absolute paths and ``..`` escapes."""
    try:
        return safe_relative(path)
    except UnsafePath as exc:
        raise PathOutsideRoot(path, root, str(exc).split(": ", 1)[-1]) from None


def within(path: str, real_root: str) -> bool:
    return path == real_root or path.startswith(real_root.rstrip("/") + "/")


class DirectoryGuard:
    """Creates and checks the parent directories of paths under one resolved root.

    Verified directories are cached, so a thousand files in one folder cost one check.
    """

    def __init__(self, sftp: asyncssh.SFTPClient, real_root: str, *, host: str, user: str):
        self.sftp = sftp
        self.real_root = real_root
        self.host, self.user = host, user
        self._verified: dict[str, asyncio.Future[None]] = {}

    def absolute(self, rel: str) -> str:
        return f"{self.real_root}/{rel}"

    async def parent(self, rel: str, *, create: bool) -> str | None:
        """The checked absolute parent of ``rel``; ``None`` if it is missing and not created."""
        parts = rel.split("/")[:-1]
        current = self.real_root
        for part in parts:
            current = f"{current}/{part}"
            if not await self._check_directory(current, rel, create=create):
                return None
        return current

    async def missing_parents(self, rel: str) -> list[str]:
        """The directories of ``rel`` that do not exist, relative to the root, outermost
        first; empty when its parent exists."""
        parts = rel.split("/")[:-1]
        current = self.real_root
        for depth, part in enumerate(parts):
            current = f"{current}/{part}"
            if not await self._check_directory(current, rel, create=False):
                return ["/".join(parts[: i + 1]) for i in range(depth, len(parts))]
        return []

    async def _check_directory(self, directory: str, rel: str, *, create: bool) -> bool:
        pending = self._verified.get(directory)
        if pending is None:
            # Concurrent uploads into one new folder share one check-and-create.
            pending = asyncio.ensure_future(self._verify(directory, rel, create=create))
            self._verified[directory] = pending
        try:
            await asyncio.shield(pending)
        except _Missing:
            self._verified.pop(directory, None)
            return False
        except BaseException:
            self._verified.pop(directory, None)
            raise
        return True

    async def _verify(self, directory: str, rel: str, *, create: bool) -> None:
        try:
            attrs = await self.sftp.lstat(directory)
        except asyncssh.SFTPNoSuchFile:
            if not create:
                raise _Missing from None
            try:
                await self.sftp.mkdir(directory)
            except asyncssh.SFTPFailure:
                # OpenSSH reports "already exists" as a plain failure: a racing creator won.
                attrs = await self.sftp.lstat(directory)
                if attrs.type != asyncssh.FILEXFER_TYPE_DIRECTORY:
                    raise self._not_a_directory(directory) from None
            except asyncssh.SFTPError as exc:
                raise sftp_error(
                    exc, directory, host=self.host, user=self.user, action="create"
                ) from None
            return
        except asyncssh.SFTPError as exc:
            raise sftp_error(
                exc, directory, host=self.host, user=self.user, action="read"
            ) from None
        if attrs.type == asyncssh.FILEXFER_TYPE_SYMLINK:
            resolved = await self.sftp.realpath(directory)
            if not within(resolved, self.real_root):
                raise PathOutsideRoot(
                    rel, self.real_root, f"{directory} is a symlink to {resolved} on the target"
                )
            attrs = await self.sftp.stat(directory)
        if attrs.type != asyncssh.FILEXFER_TYPE_DIRECTORY:
            raise self._not_a_directory(directory)

    def _not_a_directory(self, directory: str) -> RemotePathError:
        return RemotePathError(
            f"{directory} on {self.host} is a file where a directory is expected", path=directory
        )


class _Missing(Exception):
    pass
