"""SSH connections to target hosts: one per (host, port, user), shared and bounded.

OpenSSH refuses the 11th concurrent channel on a connection (``MaxSessions`` 10), so every
channel (a command, an SFTP session) is opened through a per-connection slot; the default
of 8 leaves headroom for anything else sharing the server's limit. Connects retry with
exponential backoff on network failures only: a refused key or a wrong host key will not
fix itself, and retrying an auth failure can get the client banned by fail2ban.

A connection on which a session fails (the server refused a command or SFTP, a command
timed out, the connection dropped) is never handed out again: a restarted sshd keeps the
old connection's process running with the old configuration, so only a new connection
reaches the server as it is now. The dropped connection closes once its last channel ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncssh

from hearth_deployer.remote.connect import TransientConnectError, connect_once, load_client_key
from hearth_deployer.remote.errors import (
    CommandTimedOut,
    ConnectionDropped,
    HostUnreachable,
    RemoteError,
    SessionFailed,
    SFTPSessionEnded,
)
from hearth_deployer.remote.hostkeys import fingerprint, key_line, parse_host_keys
from hearth_deployer.remote.port import CommandResult
from hearth_deployer.remote.target import PoolSettings, SSHTarget

log = logging.getLogger(__name__)

_T = TypeVar("_T")
#: How sshd refuses a session channel beyond MaxSessions: OpenSSH answers
#: OPEN_CONNECT_FAILED "open failed" (and logs "no more sessions"); other servers use the
#: other two. We only open session channels, so these codes mean "no free session".
_SESSION_LIMIT_CODES = (
    asyncssh.OPEN_CONNECT_FAILED,
    asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
    asyncssh.OPEN_RESOURCE_SHORTAGE,
)

__all__ = ["CommandResult", "HostPool", "PoolSettings", "RawCommandResult", "SSHTarget"]


@dataclass(frozen=True)
class RawCommandResult:
    exit_status: int
    stdout: bytes
    stderr: bytes


#: How asyncssh says the connection went away under an operation.
_LOST = (
    asyncssh.ConnectionLost,
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    ConnectionError,
)
#: Errors inside a channel that say the connection is not to be trusted with another one.
_SESSION_ERRORS = (SessionFailed, CommandTimedOut, asyncssh.DisconnectError, TimeoutError)


class _PooledConnection:
    def __init__(self, conn: asyncssh.SSHClientConnection, max_channels: int) -> None:
        self.conn = conn
        self.lost = False
        #: Operations under way (the connection is not reaped or closed under them), and
        #: channels open (one per command, plus the SFTP session): most at once in ``peak``.
        self.active = 0
        self.channels = 0
        self.peak = 0
        self.last_used = time.monotonic()
        self._slots = asyncio.Semaphore(max_channels)
        #: The connection's one SFTP session, opened on first use and kept while the
        #: connection lives: every file operation of every deployment on the host shares it.
        self.sftp: asyncssh.SFTPClient | None = None
        self._sftp_lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[asyncssh.SSHClientConnection]:
        async with self._slots:
            self.active += 1
            self._opened()
            try:
                yield self.conn
            finally:
                self.channels -= 1
                self._done()

    @contextlib.asynccontextmanager
    async def in_use(self) -> AsyncIterator[None]:
        """An operation on the shared SFTP session: no slot of its own (the session holds
        one), but counted, so the connection is neither reaped nor closed under it."""
        self.active += 1
        try:
            yield
        finally:
            self._done()

    def _opened(self) -> None:
        self.channels += 1
        self.peak = max(self.peak, self.channels)

    def _done(self) -> None:
        self.active -= 1
        self.last_used = time.monotonic()
        if self.lost and self.active == 0:
            self.conn.close()

    async def shared_sftp(
        self, start: Callable[[asyncssh.SSHClientConnection], Awaitable[asyncssh.SFTPClient]]
    ) -> asyncssh.SFTPClient:
        """The connection's SFTP session, started by ``start`` the first time. It takes one
        channel slot for as long as it lives, which is as long as the connection."""
        async with self._sftp_lock:
            if self.sftp is None:
                await self._slots.acquire()
                try:
                    self.sftp = await start(self.conn)
                except BaseException:
                    self._slots.release()
                    raise
                self._opened()
            return self.sftp

    def drop(self) -> None:
        """Hand this connection out no more; close it once its last channel ended."""
        self.lost = True
        if self.active == 0:
            self.conn.close()


class HostPool:
    """Shared SSH connections; use ``async with HostPool() as pool`` or call :meth:`close`."""

    def __init__(
        self,
        settings: PoolSettings | None = None,
        *,
        on_host_key_learned: Callable[[SSHTarget, str], None] | None = None,
    ) -> None:
        self.settings = settings or PoolSettings()
        self._on_host_key_learned = on_host_key_learned
        self._connections: dict[tuple[str, int, str], _PooledConnection] = {}
        self._connect_locks: dict[tuple[str, int, str], asyncio.Lock] = {}
        self._connect_slots = asyncio.Semaphore(self.settings.max_concurrent_connects)
        #: Host keys accepted on first use, by (host, port): later connects must match.
        self.learned_host_keys: dict[tuple[str, int], str] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    async def __aenter__(self) -> HostPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def peak_channels(self, target: SSHTarget) -> int:
        """Most channels that were open at once on the target's current connection."""
        pooled = self._connections.get(target.key)
        return pooled.peak if pooled else 0

    def connection_count(self) -> int:
        return sum(1 for pooled in self._connections.values() if not pooled.lost)

    @contextlib.asynccontextmanager
    async def channel(self, target: SSHTarget) -> AsyncIterator[asyncssh.SSHClientConnection]:
        """The shared connection, holding one channel slot: open exactly one channel in it."""
        pooled = await self._connection(target)
        async with pooled.slot() as conn:
            try:
                yield conn
            except (asyncssh.ConnectionLost, asyncssh.SFTPConnectionLost, ConnectionError) as exc:
                # Never hand this connection out again; the next operation reconnects.
                self._drop(target, pooled, exc)
                raise ConnectionDropped(
                    host=target.host, port=target.port, reason=str(exc) or type(exc).__name__
                ) from None
            except _SESSION_ERRORS as exc:
                self._drop(target, pooled, exc)
                raise

    def _drop(self, target: SSHTarget, pooled: _PooledConnection, exc: BaseException) -> None:
        if self._connections.get(target.key) is pooled:
            del self._connections[target.key]
        if not pooled.lost:
            log.warning(
                "dropping the SSH connection to %s after a session error (%s); "
                "the next operation reconnects",
                target.label,
                str(exc) or type(exc).__name__,
            )
        pooled.drop()

    @contextlib.asynccontextmanager
    async def sftp(self, target: SSHTarget) -> AsyncIterator[asyncssh.SFTPClient]:
        """The connection's SFTP session, shared by every operation on ``target``.

        Opening a session cost the host a process and both sides about 5 ms of CPU, once
        per deployment when each deployment had its own; it now lives as long as the
        connection. An error that says the connection or the session is gone drops the
        connection with its session: the next operation reconnects."""
        pooled = await self._connection(target)
        async with pooled.in_use():
            try:
                yield await pooled.shared_sftp(lambda conn: self._start_sftp(target, conn))
            except Exception as exc:
                # As channel() does. An operation turns a lost session into its own
                # error (SFTPSessionEnded); whether the connection went with it is
                # looked up, to say which.
                gone = pooled.conn.is_closed()
                ended = isinstance(exc, (*_LOST, SFTPSessionEnded))
                if gone or ended or isinstance(exc, _SESSION_ERRORS):
                    self._drop(target, pooled, exc)
                if isinstance(exc, _LOST) or (gone and isinstance(exc, SFTPSessionEnded)):
                    raise ConnectionDropped(
                        host=target.host, port=target.port, reason=str(exc) or type(exc).__name__
                    ) from None
                raise

    async def _start_sftp(
        self, target: SSHTarget, conn: asyncssh.SSHClientConnection
    ) -> asyncssh.SFTPClient:
        try:
            return await self._retry_refused_channel(conn.start_sftp_client)
        except (asyncssh.ChannelOpenError, asyncssh.SFTPError) as exc:
            raise SessionFailed(f"cannot start SFTP on {target.label}: {exc}") from None

    async def run_raw(
        self,
        target: SSHTarget,
        command: str,
        *,
        timeout: float | None = None,
        stdin: bytes | None = None,
    ) -> RawCommandResult:
        async with self.channel(target) as conn:
            # Empty input must still reach EOF: asyncssh writes nothing for b"", and a
            # command reading stdin would wait forever.
            feed: dict[str, Any] = {"input": stdin} if stdin else {"stdin": asyncssh.DEVNULL}

            def start() -> Awaitable[asyncssh.SSHCompletedProcess]:
                return conn.run(command, check=False, timeout=timeout, encoding=None, **feed)

            try:
                result = await self._retry_refused_channel(start)
            except asyncssh.TimeoutError:
                raise CommandTimedOut(command, host=target.label, timeout=timeout or 0) from None
            except asyncssh.ChannelOpenError as exc:
                raise SessionFailed(f"cannot run a command on {target.label}: {exc}") from None
        stdout = result.stdout if isinstance(result.stdout, bytes) else b""
        stderr = result.stderr if isinstance(result.stderr, bytes) else b""
        # A command killed by a signal has no exit status; report it as failed.
        status = result.exit_status if result.exit_status is not None else -1
        return RawCommandResult(status, stdout, stderr)

    async def run(
        self, target: SSHTarget, command: str, *, timeout: float | None = None
    ) -> CommandResult:
        raw = await self.run_raw(target, command, timeout=timeout)
        return CommandResult(
            raw.exit_status,
            raw.stdout.decode("utf-8", "replace"),
            raw.stderr.decode("utf-8", "replace"),
        )

    async def _retry_refused_channel(self, open_channel: Callable[[], Awaitable[_T]]) -> _T:
        """Open a channel, retrying briefly while the server refuses it for lack of sessions.

        A refused open never started anything on the server, so retrying is safe."""
        deadline = time.monotonic() + self.settings.channel_retry_seconds
        delay = 0.01
        while True:
            try:
                return await open_channel()
            except asyncssh.ChannelOpenError as exc:
                if exc.code not in _SESSION_LIMIT_CODES or time.monotonic() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def close(self) -> None:
        self._closed = True
        if self._reaper:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        connections = list(self._connections.values())
        self._connections.clear()
        for pooled in connections:
            pooled.conn.close()
        for pooled in connections:
            with contextlib.suppress(Exception):
                await pooled.conn.wait_closed()

    async def _connection(self, target: SSHTarget) -> _PooledConnection:
        if self._closed:
            raise RemoteError("the SSH connection pool is closed")
        pooled = self._connections.get(target.key)
        if pooled and not pooled.lost:
            pooled.last_used = time.monotonic()  # so the idle reaper leaves it alone
            return pooled
        lock = self._connect_locks.setdefault(target.key, asyncio.Lock())
        async with lock:
            pooled = self._connections.get(target.key)
            if pooled and not pooled.lost:
                return pooled
            pooled = await self._connect_with_retries(target)
            self._connections[target.key] = pooled
            if self._reaper is None or self._reaper.done():
                self._reaper = asyncio.create_task(self._reap_idle(), name="ssh-idle-reaper")
            return pooled

    def pinned_host_keys(self, target: SSHTarget) -> list[asyncssh.SSHKey]:
        """The keys ``target`` must present: pinned, or learned on first use."""
        return self._pinned_keys(target)

    def _pinned_keys(self, target: SSHTarget) -> list[asyncssh.SSHKey]:
        if target.known_host_key:
            return parse_host_keys(target.known_host_key)
        learned = self.learned_host_keys.get((target.host, target.port))
        return parse_host_keys(learned) if learned else []

    async def _connect_with_retries(self, target: SSHTarget) -> _PooledConnection:
        settings = self.settings
        client_key = load_client_key(target)
        pinned = self._pinned_keys(target)
        if not pinned and not target.trust_on_first_use:
            # Refuse before connecting: without a pinned key, any server would be trusted.
            raise RemoteError(
                f"{target.label} has no known host key and trust on first use is off: "
                "set the target's known host key"
            )
        delay = settings.backoff_initial
        reason = "no attempt made"
        for attempt in range(1, settings.connect_attempts + 1):
            try:
                return await self._connect_once(target, client_key, pinned)
            except TransientConnectError as exc:
                reason = exc.reason
                log.info("connect to %s failed (%s), attempt %d", target.label, reason, attempt)
            if attempt < settings.connect_attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, settings.backoff_max)
        raise HostUnreachable(
            host=target.host, port=target.port, reason=reason, attempts=settings.connect_attempts
        )

    async def _connect_once(
        self, target: SSHTarget, client_key: asyncssh.SSHKey, pinned: list[asyncssh.SSHKey]
    ) -> _PooledConnection:
        holder: list[_PooledConnection] = []

        def mark_lost() -> None:
            for pooled in holder:
                pooled.lost = True

        conn, learned = await connect_once(
            target,
            client_key,
            pinned,
            settings=self.settings,
            slots=self._connect_slots,
            on_lost=mark_lost,
        )
        pooled = _PooledConnection(conn, self.settings.max_channels_per_connection)
        holder.append(pooled)
        if learned is not None:
            line = key_line(learned)
            self.learned_host_keys[(target.host, target.port)] = line
            log.warning("trusting %s on first use: host key %s", target.label, fingerprint(learned))
            if self._on_host_key_learned:
                self._on_host_key_learned(target, line)
        return pooled

    async def _reap_idle(self) -> None:
        interval = max(0.05, self.settings.idle_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for key, pooled in list(self._connections.items()):
                idle = pooled.active == 0 and now - pooled.last_used >= self.settings.idle_timeout
                if pooled.lost or idle:
                    del self._connections[key]
                    pooled.conn.close()
            if not self._connections:
                return
