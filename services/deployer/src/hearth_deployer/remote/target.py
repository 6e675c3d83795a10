"""Where and as whom the deployer connects to a target, and how its connections behave."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SSHTarget:
    """Where and as whom to connect. ``client_key`` is a key file path or the key itself."""

    host: str
    user: str
    client_key: Path | str | bytes = field(repr=False)
    port: int = 22
    #: ``ssh-ed25519 AAAA...`` (one or more lines); ``None`` only with trust on first use.
    known_host_key: str | None = None
    trust_on_first_use: bool = False
    passphrase: str | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.host, self.port, self.user)

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


@dataclass(frozen=True)
class PoolSettings:
    #: Concurrent channels per connection; keep it below the server's ``MaxSessions``.
    max_channels_per_connection: int = 8
    #: TCP connect + key exchange + authentication, per attempt.
    connect_timeout: float = 10.0
    connect_attempts: int = 4
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    #: A connection nobody used for this long is closed.
    idle_timeout: float = 60.0
    keepalive_interval: float = 15.0
    #: New connections in flight at once, across hosts: sshd drops handshakes beyond
    #: ``MaxStartups`` (10 by default), which would look like a flaky network.
    max_concurrent_connects: int = 8
    #: How long to keep retrying a channel the server refused for lack of sessions. sshd
    #: frees a session slot only after reaping the session's process, a moment after the
    #: channel closed, so a slot we just released can still count against MaxSessions.
    channel_retry_seconds: float = 2.0
    #: The OpenSSH client that carries big streamed uploads (see :mod:`.openssh`); None,
    #: or a name not on PATH, streams them over asyncssh instead.
    ssh_client: str | None = "ssh"
