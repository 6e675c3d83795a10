"""Domain errors of the remote-host layer: each message says what failed and what to do.

The deployer turns these into ``DeploymentFailed`` reasons and log lines, so a message must
make sense to a person reading the dashboard, and must never contain a secret (key material,
passwords): only key fingerprints, users, hosts and paths.
"""

from __future__ import annotations


class RemoteError(Exception):
    """Anything that went wrong talking to a target host."""


class AuthenticationFailed(RemoteError):
    def __init__(self, *, user: str, host: str, port: int, key_fingerprint: str) -> None:
        self.user, self.host, self.port, self.key_fingerprint = user, host, port, key_fingerprint
        super().__init__(
            f"SSH authentication failed for {user}@{host}:{port} with key {key_fingerprint}: "
            f"add the matching public key to ~{user}/.ssh/authorized_keys on the host, "
            "or point the target at the right key"
        )


class HostUnreachable(RemoteError):
    def __init__(self, *, host: str, port: int, reason: str, attempts: int) -> None:
        self.host, self.port, self.reason, self.attempts = host, port, reason, attempts
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(
            f"cannot reach SSH server {host}:{port} ({reason}) after {tries}: "
            "check that the host is up, sshd is running and the port is right"
        )


class ConnectionDropped(RemoteError):
    def __init__(self, *, host: str, port: int, reason: str) -> None:
        self.host, self.port, self.reason = host, port, reason
        super().__init__(
            f"the SSH connection to {host}:{port} was lost during an operation ({reason}); "
            "the operation may be retried"
        )


class SFTPSessionEnded(RemoteError):
    """The SFTP session ended under an operation (the host's SFTP server died, or the
    connection under it went away): the pool drops the connection it belonged to, so the
    next operation starts afresh."""

    def __init__(self, *, host: str, action: str, path: str, reason: str) -> None:
        super().__init__(
            f"the SFTP session on {host} ended while trying to {action} {path} ({reason}); "
            "the next operation opens a new one"
        )


class SessionFailed(RemoteError):
    """The server refused a session (a command, SFTP) on a connection that is up: the
    connection is dropped, so the next operation reconnects to what the server is now."""


class HostKeyMismatch(RemoteError):
    def __init__(self, *, host: str, port: int, expected: list[str], got: str) -> None:
        self.host, self.port, self.expected, self.got = host, port, expected, got
        super().__init__(
            f"host key of {host}:{port} does not match the pinned key: "
            f"expected {' or '.join(expected)}, got {got}. If the host was reinstalled, "
            "update the target's known host key; otherwise someone may be intercepting "
            "the connection"
        )


class HostKeyUnknown(RemoteError):
    def __init__(self, *, host: str, port: int, got: str) -> None:
        self.host, self.port, self.got = host, port, got
        super().__init__(
            f"no known host key is configured for {host}:{port} (it presented {got}): "
            "set the target's known host key (ssh-keyscan, then verify it) or enable "
            "trust on first use"
        )


class RemotePathError(RemoteError):
    """A problem with one path on the target."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(message)


class PathOutsideRoot(RemotePathError):
    def __init__(self, path: str, root: str, why: str) -> None:
        self.root = root
        super().__init__(f"refusing {path!r}: {why} (it must stay under {root})", path=path)


class RemotePermissionDenied(RemotePathError):
    def __init__(self, path: str, *, user: str, host: str, action: str) -> None:
        super().__init__(
            f"permission denied: {user}@{host} may not {action} {path}; "
            f"give {user} write access to it or deploy as a user that has it",
            path=path,
        )


class DiskFull(RemotePathError):
    def __init__(self, path: str, *, host: str, free_bytes: int | None = None) -> None:
        self.free_bytes = free_bytes
        free = "" if free_bytes is None else f" ({free_bytes} bytes free)"
        super().__init__(
            f"no space left on {host} while writing {path}{free}: "
            "free some space on the target (old backups, logs, the recorder database)",
            path=path,
        )


class RemotePathMissing(RemotePathError):
    def __init__(self, path: str, *, host: str) -> None:
        super().__init__(f"{path} does not exist on {host}", path=path)


class RemoteCommandFailed(RemoteError):
    def __init__(self, command: str, *, host: str, exit_status: int | None, stderr: str) -> None:
        self.command, self.exit_status, self.stderr = command, exit_status, stderr
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
        super().__init__(f"{command!r} failed on {host} (exit {exit_status}): {detail}")


class CommandTimedOut(RemoteError):
    def __init__(self, command: str, *, host: str, timeout: float) -> None:
        self.command, self.timeout = command, timeout
        super().__init__(f"{command!r} on {host} did not finish within {timeout:g} s")


class BackupCorrupt(RemoteError):
    def __init__(self, archive: str, *, host: str, why: str) -> None:
        self.archive = archive
        super().__init__(f"backup {archive} on {host} is not usable: {why}")
