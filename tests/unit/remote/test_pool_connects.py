"""Connect retries and error classification, with asyncssh.connect replaced by a fake."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncssh
import pytest

from hearth_deployer.remote import (
    AuthenticationFailed,
    ConnectionDropped,
    HostPool,
    HostUnreachable,
    PoolSettings,
    SSHTarget,
)

CLIENT_KEY = asyncssh.generate_private_key("ssh-ed25519")
HOST_KEY = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
TARGET = SSHTarget(
    host="ha.local",
    user="hearth",
    client_key=CLIENT_KEY.export_private_key(),
    known_host_key=HOST_KEY,
)
FAST = PoolSettings(connect_attempts=4, backoff_initial=0.02, backoff_max=1, connect_timeout=0.2)


class FakeConnection:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True

    async def wait_closed(self) -> None:
        return None


class FakeConnect:
    def __init__(self, *outcomes: BaseException | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[float] = []
        self.kwargs: dict[str, Any] = {}

    async def __call__(self, host: str, port: int, **kwargs: Any) -> FakeConnection:
        self.calls.append(time.monotonic())
        self.kwargs = kwargs
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return FakeConnection()


async def test_network_failures_are_retried_with_growing_delays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeConnect(
        ConnectionRefusedError(), asyncssh.ConnectionLost("reset"), OSError(113, "x")
    )
    monkeypatch.setattr(asyncssh, "connect", fake)
    async with HostPool(FAST) as pool, pool.channel(TARGET) as conn:
        assert isinstance(conn, FakeConnection)
    gaps = [b - a for a, b in zip(fake.calls, fake.calls[1:], strict=False)]
    assert len(fake.calls) == 4
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04 and gaps[2] >= 0.08


async def test_the_users_ssh_setup_never_leaks_in(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConnect()
    monkeypatch.setattr(asyncssh, "connect", fake)
    async with HostPool(FAST) as pool, pool.channel(TARGET):
        pass
    assert fake.kwargs["config"] == []  # no ~/.ssh/config
    assert fake.kwargs["agent_path"] is None  # no agent keys
    assert callable(fake.kwargs["known_hosts"])  # never None: checking stays on
    trusted, _, _ = fake.kwargs["known_hosts"]("ha.local", "10.0.0.2", 22)
    assert [k.export_public_key("openssh").decode() for k in trusted] == [HOST_KEY]


async def test_an_auth_failure_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConnect(asyncssh.PermissionDenied("denied"))
    monkeypatch.setattr(asyncssh, "connect", fake)
    async with HostPool(FAST) as pool:
        with pytest.raises(AuthenticationFailed) as caught:
            async with pool.channel(TARGET):
                pass
    assert len(fake.calls) == 1
    assert CLIENT_KEY.get_fingerprint() in str(caught.value)
    assert "hearth@ha.local:22" in str(caught.value)


async def test_a_hanging_host_times_out_on_every_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    async def hang(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(60)

    monkeypatch.setattr(asyncssh, "connect", hang)
    settings = PoolSettings(connect_attempts=2, backoff_initial=0.01, connect_timeout=0.1)
    async with HostPool(settings) as pool:
        with pytest.raises(HostUnreachable, match=r"timed out after 0\.1 s"):
            async with pool.channel(TARGET):
                pass
    assert calls == 2


async def test_concurrent_users_share_one_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConnect()
    monkeypatch.setattr(asyncssh, "connect", fake)

    async def use(pool: HostPool) -> None:
        async with pool.channel(TARGET):
            await asyncio.sleep(0.01)

    async with HostPool(FAST) as pool:
        await asyncio.gather(*(use(pool) for _ in range(12)))
        assert pool.peak_channels(TARGET) == FAST.max_channels_per_connection
    assert len(fake.calls) == 1


async def test_a_connection_lost_mid_operation_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeConnect()
    monkeypatch.setattr(asyncssh, "connect", fake)
    async with HostPool(FAST) as pool:
        with pytest.raises(ConnectionDropped, match="may be retried"):
            async with pool.channel(TARGET):
                raise asyncssh.ConnectionLost("reset by peer")
        assert pool.connection_count() == 0
        async with pool.channel(TARGET):
            pass
    assert len(fake.calls) == 2
