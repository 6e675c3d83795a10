"""Connections to a real OpenSSH sshd: reuse, bounds, host keys, and the connect errors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncssh
import psutil
import pytest

from hearth.embedded.process import free_port
from hearth_deployer.remote import (
    AuthenticationFailed,
    CommandTimedOut,
    HostKeyMismatch,
    HostPool,
    HostUnreachable,
    PoolSettings,
    RemoteError,
    SSHHost,
    UploadFile,
)
from hearth_deployer.remote.port import session_scope
from tests.integration.remote.conftest import target_for
from tests.support.spies import spy
from tests.support.sshd import ClientKey

pytestmark = pytest.mark.integration


async def test_run_returns_status_and_output_without_raising(remote: SSHHost) -> None:
    result = await remote.run("echo out; echo err >&2; exit 3", timeout=10)
    assert (result.exit_status, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.ok


async def test_a_slow_command_times_out(remote: SSHHost) -> None:
    started = time.monotonic()
    with pytest.raises(CommandTimedOut, match=r"did not finish within 0\.3 s"):
        await remote.run("sleep 10", timeout=0.3)
    assert time.monotonic() - started < 3


async def test_one_connection_serves_every_operation(
    pool: HostPool, remote: SSHHost, sshd: Any
) -> None:
    await remote.run("true")
    await remote.upload(str(sshd.remote_root), [UploadFile("a", data=b"a")])
    await remote.manifest(str(sshd.remote_root))
    assert pool.connection_count() == 1
    assert sshd.log.count("Accepted publickey") == 1


async def test_idle_connections_are_closed(sshd: Any) -> None:
    async with HostPool(PoolSettings(idle_timeout=0.2)) as pool:
        await SSHHost(pool, target_for(sshd)).run("true")
        assert pool.connection_count() == 1
        await asyncio.sleep(0.8)
        assert pool.connection_count() == 0
        # and the next operation simply connects again
        assert (await SSHHost(pool, target_for(sshd)).run("echo again")).stdout == "again\n"
    assert sshd.log.count("Accepted publickey") == 2


async def test_twenty_concurrent_uploads_and_commands_share_one_connection_within_max_sessions(
    pool: HostPool, remote: SSHHost, sshd: Any
) -> None:
    root = str(sshd.remote_root)
    payload = b"x" * 256 * 1024
    await asyncio.gather(
        *(remote.upload(root, [UploadFile(f"f{i}.bin", data=payload)]) for i in range(20)),
        *(remote.run("sleep 0.2", timeout=10) for _ in range(20)),
    )
    assert sorted(p.name for p in sshd.remote_root.iterdir()) == sorted(
        f"f{i}.bin" for i in range(20)
    )
    assert pool.connection_count() == 1
    # The default bound, reached, not passed: the uploads' one SFTP session and commands.
    assert pool.peak_channels(remote.target) == 8


async def test_the_sftp_session_lives_as_long_as_its_connection(
    pool: HostPool, remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starting one cost the host a process and both sides about 5 ms of CPU, once per
    deployment while each deployment had its own."""
    started = spy(monkeypatch, asyncssh.SSHClientConnection, "start_sftp_client")
    root = str(sshd.remote_root)
    for deployment in range(3):
        async with session_scope():
            await remote.upload(root, [UploadFile("a.txt", data=b"%d" % deployment)])
            assert await remote.read_files(root, ["a.txt"], limit=10) == {
                "a.txt": b"%d" % deployment
            }
            await remote.manifest(root)
    await asyncio.gather(*(remote.existing(root, [f"f{i}"]) for i in range(10)))
    assert len(started) == 1
    assert sshd.log.count("Accepted publickey") == 1


def sftp_server_of(sshd: Any) -> psutil.Process:
    """The host's process serving the one SFTP session (internal-sftp: a child of the
    connection's sshd with no children of its own, as no command runs)."""
    (leaf,) = [
        p for p in psutil.Process(sshd.process.pid).children(recursive=True) if not p.children()
    ]
    return leaf


async def test_an_sftp_session_the_host_ended_is_replaced_on_a_live_connection(
    pool: HostPool, remote: SSHHost, sshd: Any
) -> None:
    """The host's SFTP server died (the OOM killer, an admin) while the connection stayed
    up. Every file operation after it used to fail with "SFTP could not read ...: Connection
    not open", on every deployment to that host, until the deployer restarted."""
    root = str(sshd.remote_root)
    await remote.upload(root, [UploadFile("a.txt", data=b"a")])
    pooled = pool._connections[target_for(sshd).key]
    server = sftp_server_of(sshd)
    server.kill()
    server.wait(5)
    with pytest.raises(RemoteError, match=r"SFTP session .* ended") as failed:
        await remote.existing(root, ["a.txt"])
    assert "\n" not in str(failed.value)
    assert pooled.lost  # the connection with the dead session is handed out no more
    assert await remote.read_files(root, ["a.txt"], limit=10) == {"a.txt": b"a"}
    assert (await remote.existing(root, ["a.txt"])).present == ["a.txt"]


async def test_an_upload_on_an_ended_sftp_session_drops_its_connection_too(
    pool: HostPool, remote: SSHHost, sshd: Any
) -> None:
    """The upload gathered its files' outcomes inside the session and raised the first
    failure after leaving it, where the pool could not see it: the dead session stayed."""
    root = str(sshd.remote_root)
    async with session_scope():  # as in a deployment: the root is resolved once
        await remote.upload(root, [UploadFile("a.txt", data=b"a")])
        pooled = pool._connections[target_for(sshd).key]
        server = sftp_server_of(sshd)
        server.kill()
        server.wait(5)
        with pytest.raises(RemoteError, match=r"SFTP session .* ended"):
            await remote.upload(root, [UploadFile("b.txt", data=b"b")], stream=False)
    assert pooled.lost
    await remote.upload(root, [UploadFile("b.txt", data=b"b")], stream=False)
    assert (sshd.remote_root / "b.txt").read_bytes() == b"b"


async def test_reading_backups_on_an_ended_sftp_session_is_an_error_not_nothing(
    pool: HostPool, remote: SSHHost, sshd: Any
) -> None:
    """Reading the backups' descriptions passes over a file it cannot read; it passed
    over a dead session too: every backup unreadable, so none kept, none to restore."""
    (sshd.remote_root / "a.json").write_text("{}")
    path = f"{sshd.remote_root}/a.json"
    assert await remote.read_many([path]) == {path: b"{}"}
    pooled = pool._connections[target_for(sshd).key]
    server = sftp_server_of(sshd)
    server.kill()
    server.wait(5)
    with pytest.raises(RemoteError, match=r"SFTP session .* ended"):
        await remote.read_many([path])
    assert pooled.lost
    assert await remote.read_many([path]) == {path: b"{}"}


async def test_without_the_bound_the_server_refuses_channels(sshd_factory: Any) -> None:
    """The control for the test above: the limit is real, so the bound is what saves us."""
    server = sshd_factory(max_sessions=3)
    unbounded = PoolSettings(max_channels_per_connection=10, channel_retry_seconds=0)
    async with HostPool(unbounded) as pool:
        host = SSHHost(pool, target_for(server))
        outcomes = await asyncio.gather(
            *(host.run("sleep 0.5", timeout=10) for _ in range(10)), return_exceptions=True
        )
    refused = [o for o in outcomes if isinstance(o, RemoteError)]
    assert refused, outcomes
    assert "cannot run a command" in str(refused[0])


async def test_wrong_client_key_is_a_clear_authentication_error(sshd: Any, tmp_path: Path) -> None:
    stranger = ClientKey.generate(tmp_path, "stranger")
    expected_fingerprint = asyncssh.read_private_key(str(stranger.path)).get_fingerprint()
    async with HostPool(PoolSettings(connect_attempts=4, backoff_initial=0.01)) as pool:
        with pytest.raises(AuthenticationFailed) as caught:
            await SSHHost(pool, target_for(sshd, client_key=stranger.path)).run("true")
    message = str(caught.value)
    assert f"{sshd.user}@127.0.0.1:{sshd.port}" in message
    assert expected_fingerprint in message
    assert "authorized_keys" in message
    # Refused keys are not retried (fail2ban would ban the deployer).
    assert sshd.log.count("Connection from") == 2  # the fixture's readiness probe + one


async def test_unreachable_port_fails_quickly_after_backoff() -> None:
    closed_port = free_port()
    target = target_for(
        type(
            "Nowhere",
            (),
            {
                "host": "127.0.0.1",
                "port": closed_port,
                "user": "root",
                "client_key": b"",
                "host_key_line": None,
            },
        )(),
        client_key=asyncssh.generate_private_key("ssh-ed25519").export_private_key(),
        trust_on_first_use=True,
    )
    settings = PoolSettings(connect_attempts=3, backoff_initial=0.05, connect_timeout=2)
    started = time.monotonic()
    async with HostPool(settings) as pool:
        with pytest.raises(HostUnreachable) as caught:
            await SSHHost(pool, target).run("true")
    elapsed = time.monotonic() - started
    assert caught.value.attempts == 3
    assert f"127.0.0.1:{closed_port}" in str(caught.value)
    assert "refused" in str(caught.value).lower()
    assert 0.15 <= elapsed < 2  # two backoff sleeps (0.05 + 0.1), no long hang


async def test_host_key_mismatch_is_refused_and_names_both_fingerprints(
    sshd_factory: Any,
) -> None:
    real, other = sshd_factory(), sshd_factory()
    real_fp = asyncssh.import_public_key(real.host_key_line).get_fingerprint()
    pinned_fp = asyncssh.import_public_key(other.host_key_line).get_fingerprint()
    async with HostPool() as pool:
        with pytest.raises(HostKeyMismatch) as caught:
            await SSHHost(pool, target_for(real, known_host_key=other.host_key_line)).run("true")
    message = str(caught.value)
    assert f"expected ssh-ed25519 {pinned_fp}" in message
    assert f"got ssh-ed25519 {real_fp}" in message
    assert "Accepted publickey" not in real.log  # refused before authenticating


async def test_no_pinned_key_and_no_trust_on_first_use_is_refused(sshd: Any) -> None:
    async with HostPool() as pool:
        with pytest.raises(RemoteError, match="no known host key"):
            await SSHHost(pool, target_for(sshd, known_host_key=None)).run("true")


async def test_trust_on_first_use_reports_the_key_then_pins_it(sshd_factory: Any) -> None:
    first = sshd_factory()
    learned: list[str] = []
    settings = PoolSettings(idle_timeout=0.1)
    async with HostPool(settings, on_host_key_learned=lambda t, line: learned.append(line)) as pool:
        target = target_for(first, known_host_key=None, trust_on_first_use=True)
        await SSHHost(pool, target).run("true")
        assert learned == [first.host_key_line]

        # The host is "reinstalled": same address, new host key.
        first.stop()
        await asyncio.sleep(0.4)  # the idle reaper drops the old connection
        reinstalled = sshd_factory(port=first.port)
        assert reinstalled.host_key_line != first.host_key_line
        with pytest.raises(HostKeyMismatch):
            await SSHHost(pool, target).run("true")
    assert learned == [first.host_key_line]  # reported once, never replaced silently
