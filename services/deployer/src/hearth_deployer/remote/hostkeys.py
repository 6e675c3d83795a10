"""Host key verification: pinned keys, or trust on first use when the user asked for it.

asyncssh is given a known-hosts *callable* holding only the pinned keys, so it never reads
``~/.ssh/known_hosts`` of whoever runs the deployer, and restricts the host key algorithms
it offers to the pinned key's, so a server with several host keys presents the pinned one.
A key that is not pinned reaches :class:`HostKeyCheck`, which records it (for the error
message, or for the caller to store under trust on first use) and decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncssh

#: Key types as they start an OpenSSH public key or known_hosts line.
_KEY_TYPE_PREFIXES = ("ssh-", "ecdsa-", "sk-")


def parse_host_keys(text: str) -> list[asyncssh.SSHKey]:
    """Public keys from lines like ``ssh-ed25519 AAAA... [comment]``.

    Full known_hosts lines (``host[,host] ssh-ed25519 AAAA...``) are accepted too: the host
    patterns are dropped, because a target's key is pinned to that target only.
    """
    keys = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        while fields and not fields[0].startswith(_KEY_TYPE_PREFIXES):
            fields.pop(0)  # host patterns or markers before the key type
        if len(fields) < 2:
            raise ValueError(f"not a public key line: {line[:60]!r}")
        try:
            keys.append(asyncssh.import_public_key(f"{fields[0]} {fields[1]}"))
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise ValueError(f"not a public key line: {line[:60]!r} ({exc})") from None
    return keys


def fingerprint(key: asyncssh.SSHKey) -> str:
    """``SHA256:...`` like ``ssh-keygen -l`` prints it, prefixed with the key type."""
    return f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"


def key_line(key: asyncssh.SSHKey) -> str:
    """The one-line OpenSSH form (``ssh-ed25519 AAAA...``) to store as the pinned key."""
    algorithm, data = key.export_public_key("openssh").decode().split()[:2]
    return f"{algorithm} {data}"


class HostKeyCheck:
    """One connection attempt's host key decision, and what the server presented."""

    def __init__(self, pinned: Sequence[asyncssh.SSHKey], *, trust_on_first_use: bool) -> None:
        self.pinned = list(pinned)
        self.trust_on_first_use = trust_on_first_use and not self.pinned
        self.presented: asyncssh.SSHKey | None = None
        self.learned: asyncssh.SSHKey | None = None

    def known_hosts(self, host: str, addr: str, port: int | None) -> tuple[Any, Any, Any]:
        """asyncssh's known-hosts callable: trusted keys, CA keys, revoked keys."""
        return (self.pinned, [], [])

    def accept_unpinned(self, key: asyncssh.SSHKey) -> bool:
        self.presented = key
        if self.trust_on_first_use:
            self.learned = key
            return True
        return False

    def client_factory(self, on_lost: Callable[[], None]) -> type[asyncssh.SSHClient]:
        """An asyncssh client class bound to this check; ``on_lost`` runs when the
        connection drops, so a pool stops handing it out."""
        check = self

        class _Client(asyncssh.SSHClient):
            def validate_host_public_key(
                self, host: str, addr: str, port: int, key: asyncssh.SSHKey
            ) -> bool:
                return check.accept_unpinned(key)

            def connection_lost(self, exc: Exception | None) -> None:
                on_lost()

        return _Client
