"""A streamed upload's bytes go through the system ``ssh`` client, as strict as asyncssh."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import asyncssh
import pytest

from hearth_deployer.remote import HostKeyMismatch, HostPool, SSHHost, UploadFile, openssh
from hearth_deployer.remote.pool import PoolSettings
from tests.integration.remote.conftest import target_for

pytestmark = pytest.mark.integration


class Spy:
    """Counts what :func:`openssh.run_streamed` returned or raised."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.outcomes: list[object] = []
        original = openssh.run_streamed

        async def spy(*args: Any) -> tuple[int, int, str]:
            try:
                result = await original(*args)
            except Exception as exc:
                self.outcomes.append(exc)
                raise
            self.outcomes.append(result)
            return result

        monkeypatch.setattr(openssh, "run_streamed", spy)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the ssh client's temporary known_hosts and key files go, to check cleanup."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def files(tmp_path: Path) -> list[UploadFile]:
    sound = tmp_path / "door.mp3"
    sound.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    return [
        UploadFile("configuration.yaml", data=b"homeassistant:\n"),
        UploadFile("scripts/run.sh", mode=0o755, data=b"#!/bin/sh\n"),
        UploadFile("www/door.mp3", source=sound),
    ]


def check_placed(root: Path, tmp_path: Path) -> None:
    assert (root / "configuration.yaml").read_bytes() == b"homeassistant:\n"
    assert (root / "scripts/run.sh").stat().st_mode & 0o7777 == 0o755
    assert (root / "www/door.mp3").read_bytes() == (tmp_path / "door.mp3").read_bytes()
    assert sorted(p.name for p in root.rglob(".hearth-*")) == []


@pytest.mark.parametrize("key_as", ["file", "text"])
async def test_the_stream_goes_through_the_ssh_client(
    sshd: Any, tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch, key_as: str
) -> None:
    spy = Spy(monkeypatch)
    key = sshd.client_key if key_as == "file" else Path(sshd.client_key).read_text()
    async with HostPool() as pool:
        remote = SSHHost(pool, target_for(sshd, client_key=key))
        result = await remote.upload(str(sshd.remote_root), files(tmp_path), stream=True)
    assert len(spy.outcomes) == 1
    outcome = spy.outcomes[0]
    assert isinstance(outcome, tuple)
    assert outcome[:2] == (0, result.bytes_sent)
    check_placed(sshd.remote_root, tmp_path)
    assert list(private_tmp.iterdir()) == []  # known_hosts and the key file are gone


async def test_the_ssh_client_refuses_a_host_key_that_is_not_pinned(
    sshd: Any, tmp_path: Path, private_tmp: Path
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    marker = sshd.remote_root / "ran"
    async with HostPool() as pool:
        target = target_for(sshd, known_host_key=other)
        binary = openssh.ssh_binary(pool, target)
        assert binary is not None

        def produce(out: IO[bytes]) -> int:
            out.write(b"x")
            return 1

        with pytest.raises(HostKeyMismatch, match="does not match the pinned key"):
            await openssh.run_streamed(pool, target, binary, f"touch {marker}", produce)
    assert not marker.exists()  # the command never ran on a host we cannot verify
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("ssh_client", [None, "hearth-no-such-ssh-client"])
async def test_without_an_ssh_client_the_stream_goes_over_asyncssh(
    sshd: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ssh_client: str | None
) -> None:
    spy = Spy(monkeypatch)
    async with HostPool(PoolSettings(ssh_client=ssh_client)) as pool:
        remote = SSHHost(pool, target_for(sshd))
        await remote.upload(str(sshd.remote_root), files(tmp_path), stream=True)
    assert spy.outcomes == []
    check_placed(sshd.remote_root, tmp_path)


async def test_when_the_ssh_client_fails_the_stream_goes_over_asyncssh(
    sshd: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch)
    fake = tmp_path / "bin" / "ssh"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'ssh: connect to host: Connection refused' >&2\nexit 255\n")
    fake.chmod(0o755)
    async with HostPool(PoolSettings(ssh_client=str(fake))) as pool:
        remote = SSHHost(pool, target_for(sshd))
        await remote.upload(str(sshd.remote_root), files(tmp_path), stream=True)
    assert len(spy.outcomes) == 1
    assert isinstance(spy.outcomes[0], openssh.OpenSSHUnavailable)
    check_placed(sshd.remote_root, tmp_path)


async def test_a_key_with_a_passphrase_never_goes_to_the_ssh_client(sshd: Any) -> None:
    async with HostPool() as pool:
        target = replace(target_for(sshd), passphrase="secret")
        assert openssh.ssh_binary(pool, target) is None
