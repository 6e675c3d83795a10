"""Turning SFTP status codes and command error output into the domain errors.

OpenSSH's sftp-server speaks SFTP version 3, which has no "disk full" code: ``ENOSPC``
arrives as a bare ``SSH_FX_FAILURE`` ("Failure"). Callers that write therefore pass the
free space they measured after the failure (see :func:`write_error`), and a failure with
less room left than the write needed is reported as :class:`DiskFull`.
"""

from __future__ import annotations

import asyncssh

from hearth_deployer.remote.errors import (
    DiskFull,
    RemoteError,
    RemotePathMissing,
    RemotePermissionDenied,
    SFTPSessionEnded,
)

_NO_SPACE_MARKERS = ("no space left on device", "disk quota exceeded")
#: How asyncssh says the SFTP session ended under a request. An operation that passes
#: over some SFTP errors must still raise these (:func:`sftp_error` makes them
#: SFTPSessionEnded), or the pool keeps handing out the dead session.
SESSION_LOST = (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection)


def sftp_error(
    exc: asyncssh.SFTPError,
    path: str,
    *,
    host: str,
    user: str,
    action: str,
) -> RemoteError:
    if isinstance(exc, SESSION_LOST):
        return SFTPSessionEnded(host=host, action=action, path=path, reason=exc.reason)
    if isinstance(exc, asyncssh.SFTPNoSuchFile | asyncssh.SFTPNoSuchPath):
        return RemotePathMissing(path, host=host)
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return RemotePermissionDenied(path, user=user, host=host, action=action)
    if isinstance(exc, asyncssh.SFTPNoSpaceOnFilesystem | asyncssh.SFTPQuotaExceeded):
        return DiskFull(path, host=host)
    if any(marker in str(exc.reason).lower() for marker in _NO_SPACE_MARKERS):
        return DiskFull(path, host=host)
    return RemoteError(f"SFTP could not {action} {path} on {host}: {exc.reason}")


def write_error(
    exc: asyncssh.SFTPError,
    path: str,
    *,
    host: str,
    user: str,
    needed_bytes: int,
    free_bytes: int | None,
) -> RemoteError:
    """Like :func:`sftp_error`, for a failed write whose free space was measured after."""
    if (
        isinstance(exc, asyncssh.SFTPFailure)
        and free_bytes is not None
        and free_bytes < max(needed_bytes, 1)
    ):
        return DiskFull(path, host=host, free_bytes=free_bytes)
    return sftp_error(exc, path, host=host, user=user, action="write")


def command_error(
    stderr: str, path: str, *, host: str, user: str, action: str
) -> RemoteError | None:
    """The domain error a failed shell command's error output names, if any."""
    lowered = stderr.lower()
    if any(marker in lowered for marker in _NO_SPACE_MARKERS):
        return DiskFull(path, host=host)
    if "permission denied" in lowered or "operation not permitted" in lowered:
        return RemotePermissionDenied(path, user=user, host=host, action=action)
    if "no such file or directory" in lowered:
        return RemotePathMissing(path, host=host)
    return None
