"""The deployer's remote-host layer: the :class:`RemoteHost` port, its SSH adapter
(:class:`SSHHost` over a shared :class:`HostPool`), its in-memory fake
(:class:`MemoryHost`) and :class:`Backups`, which works on any host.

Start with ``SSHHost(pool, SSHTarget(...))`` (or ``SSHHosts(pool).host(target, fence)``);
see ``port.RemoteHost`` for the operations and ``errors`` for what can go wrong.
"""

from hearth_deployer.remote.backups import BackupInfo, Backups, RestoreResult
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
    SFTPSessionEnded,
)
from hearth_deployer.remote.host import SSHHost, SSHHosts
from hearth_deployer.remote.memory import MemoryHost, MemoryHosts
from hearth_deployer.remote.pool import HostPool
from hearth_deployer.remote.port import (
    CommandResult,
    Hosts,
    RemoteHost,
    UploadFile,
    UploadResult,
)
from hearth_deployer.remote.target import PoolSettings, SSHTarget

__all__ = [
    "AuthenticationFailed",
    "BackupCorrupt",
    "BackupInfo",
    "Backups",
    "CommandResult",
    "CommandTimedOut",
    "ConnectionDropped",
    "DiskFull",
    "HostKeyMismatch",
    "HostKeyUnknown",
    "HostPool",
    "HostUnreachable",
    "Hosts",
    "MemoryHost",
    "MemoryHosts",
    "PathOutsideRoot",
    "PoolSettings",
    "RemoteCommandFailed",
    "RemoteError",
    "RemoteHost",
    "RemotePathError",
    "RemotePathMissing",
    "RemotePermissionDenied",
    "RestoreResult",
    "SFTPSessionEnded",
    "SSHHost",
    "SSHHosts",
    "SSHTarget",
    "SessionFailed",
    "UploadFile",
    "UploadResult",
]
