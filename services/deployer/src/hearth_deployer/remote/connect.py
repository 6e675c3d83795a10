"""Opening one SSH connection to a target, and what a failed attempt means.

A network failure is transient (:class:`TransientConnectError`: the pool retries it with
backoff); a refused key or a wrong host key is not, and is raised as the error that
names it (retrying an auth failure can get the client banned by fail2ban).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

import asyncssh
from asyncssh.encryption import get_default_encryption_algs

from hearth_deployer.remote.errors import (
    AuthenticationFailed,
    HostKeyMismatch,
    HostKeyUnknown,
    RemoteError,
)
from hearth_deployer.remote.hostkeys import HostKeyCheck, fingerprint
from hearth_deployer.remote.target import PoolSettings, SSHTarget

#: AES-GCM runs in AES-NI through ``cryptography``; asyncssh's ChaCha20-Poly1305 (the
#: default first choice) moves about half as many bytes per second. Everything else
#: stays acceptable, in asyncssh's order, for servers without AES-GCM.
FAST_CIPHERS_FIRST = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    *(
        name
        for name in (alg.decode() for alg in get_default_encryption_algs())
        if name not in {"aes128-gcm@openssh.com", "aes256-gcm@openssh.com"}
    ),
]


class TransientConnectError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def load_client_key(target: SSHTarget) -> asyncssh.SSHKey:
    try:
        if isinstance(target.client_key, bytes):
            return asyncssh.import_private_key(target.client_key, target.passphrase)
        text = str(target.client_key)
        if "PRIVATE KEY" in text:
            return asyncssh.import_private_key(text, target.passphrase)
        return asyncssh.read_private_key(text, target.passphrase)
    except (OSError, asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
        # The message names the file at most, never the key material.
        where = (
            ""
            if isinstance(target.client_key, bytes) or "PRIVATE KEY" in str(target.client_key)
            else f" {target.client_key}"
        )
        raise RemoteError(
            f"cannot load the SSH client key{where} for {target.label}: {exc}"
        ) from None


async def connect_once(
    target: SSHTarget,
    client_key: asyncssh.SSHKey,
    pinned: list[asyncssh.SSHKey],
    *,
    settings: PoolSettings,
    slots: asyncio.Semaphore,
    on_lost: Callable[[], None],
) -> tuple[asyncssh.SSHClientConnection, asyncssh.SSHKey | None]:
    """One attempt: the connection, and the host key learned on first use (if any)."""
    check = HostKeyCheck(pinned, trust_on_first_use=target.trust_on_first_use)
    try:
        async with slots, asyncio.timeout(settings.connect_timeout):
            conn = await asyncssh.connect(
                target.host,
                target.port,
                username=target.user,
                client_keys=[client_key],
                known_hosts=check.known_hosts,
                client_factory=check.client_factory(on_lost),
                # Nothing from the deployer's own environment leaks in: no
                # ~/.ssh/config, no agent keys, no password prompts.
                config=[],
                agent_path=None,
                password=None,
                kbdint_auth=False,
                preferred_auth="publickey",
                connect_timeout=settings.connect_timeout,
                login_timeout=settings.connect_timeout,
                keepalive_interval=settings.keepalive_interval,
                encryption_algs=FAST_CIPHERS_FIRST,
            )
    except asyncssh.DisconnectError as exc:
        raise _refused(exc, target, client_key, check, pinned) from None
    except TimeoutError:
        raise TransientConnectError(f"timed out after {settings.connect_timeout:g} s") from None
    except OSError as exc:
        raise TransientConnectError(_describe_network_error(exc)) from None
    return conn, check.learned


def _refused(
    exc: asyncssh.DisconnectError,
    target: SSHTarget,
    client_key: asyncssh.SSHKey,
    check: HostKeyCheck,
    pinned: list[asyncssh.SSHKey],
) -> Exception:
    """What an SSH-level refusal of the handshake means."""
    if isinstance(exc, asyncssh.PermissionDenied):
        return AuthenticationFailed(
            user=target.user,
            host=target.host,
            port=target.port,
            key_fingerprint=client_key.get_fingerprint("sha256"),
        )
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        got = fingerprint(check.presented) if check.presented else "an unreadable key"
        if pinned:
            expected = [fingerprint(key) for key in pinned]
            return HostKeyMismatch(host=target.host, port=target.port, expected=expected, got=got)
        return HostKeyUnknown(host=target.host, port=target.port, got=got)
    if isinstance(exc, asyncssh.KeyExchangeFailed):
        if pinned and "host key" in str(exc.reason).lower():
            # The server has no key of the pinned type at all.
            return HostKeyMismatch(
                host=target.host,
                port=target.port,
                expected=[fingerprint(key) for key in pinned],
                got=f"no key of type {', '.join(k.get_algorithm() for k in pinned)}",
            )
        return RemoteError(f"SSH key exchange with {target.label} failed: {exc}")
    if isinstance(exc, asyncssh.ConnectionLost | asyncssh.ServiceNotAvailable):
        # sshd drops handshakes beyond MaxStartups, and a restarting host looks the same.
        return TransientConnectError(f"connection lost during handshake: {exc}")
    return RemoteError(f"SSH server {target.label} refused the session: {exc}")


def _describe_network_error(exc: OSError) -> str:
    # asyncio's own messages ("Connect call failed (...)") hide the cause.
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name: {exc.strerror}"
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc)
