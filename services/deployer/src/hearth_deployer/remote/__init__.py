"""The deployer's remote-host layer: SSH connections, confined file operations, backups.

Start with :class:`HostPool` and ``pool.host(SSHTarget(...))``; see ``host.RemoteHost`` for
the operations and ``errors`` for what can go wrong.
"""

from hearth_deployer.remote.backup import BackupInfo, RestoreResult
from hearth_deployer.remote.errors import (
    AuthenticationFailed,
    BackupCorrupt,
    CommandTimedOut,
    ConnectionDropped,
    DiskFull,
    HostKeyMismatch,
    HostKeyUnknown,
    HostUnreachable,
    PathOutsideRoot,
    RemoteCommandFailed,
    RemoteError,
    RemotePathError,
    RemotePathMissing,
    RemotePermissionDenied,
    SessionFailed,
)
from hearth_deployer.remote.host import RemoteHost, UploadFile, UploadResult
from hearth_deployer.remote.pool import CommandResult, HostPool, PoolSettings, SSHTarget

__all__ = [
    "AuthenticationFailed",
    "BackupCorrupt",
    "BackupInfo",
    "CommandResult",
    "CommandTimedOut",
    "ConnectionDropped",
    "DiskFull",
    "HostKeyMismatch",
    "HostKeyUnknown",
    "HostPool",
    "HostUnreachable",
    "PathOutsideRoot",
    "PoolSettings",
    "RemoteCommandFailed",
    "RemoteError",
    "RemoteHost",
    "RemotePathError",
    "RemotePathMissing",
    "RemotePermissionDenied",
    "RestoreResult",
    "SSHTarget",
    "SessionFailed",
    "UploadFile",
    "UploadResult",
]
