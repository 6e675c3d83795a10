"""A big upload goes as one tar stream, with the same guarantees as file-by-file SFTP."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.remote import DiskFull, PathOutsideRoot, SSHHost, UploadFile, streamed
from hearth_deployer.remote.confine import STAGING_PREFIX, TEMP_PREFIX
from tests.integration.remote.conftest import local_manifest
from tests.integration.remote.test_files import AWKWARD_NAMES, uploads
from tests.support.sshd import TinyFilesystem

pytestmark = pytest.mark.integration


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob(".hearth-*"))


async def test_a_streamed_upload_places_exact_files_and_modes(
    remote: SSHHost, sshd: Any, tmp_path: Path
) -> None:
    root = str(sshd.remote_root)
    (sshd.remote_root / "configuration.yaml").write_text("old\n")
    sound = tmp_path / "door.mp3"
    sound.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    files = [*uploads(AWKWARD_NAMES), UploadFile("www/door.mp3", mode=0o644, source=sound)]

    result = await remote.upload(root, files, stream=True)

    assert result.bytes_sent == sum(len(d) for d, _ in AWKWARD_NAMES.values()) + 2 * 1024 * 1024 + 5
    manifest = await remote.manifest(root)
    assert manifest == local_manifest(sshd.remote_root)
    for path, (data, mode) in AWKWARD_NAMES.items():
        assert manifest[path].sha256 == hashlib.sha256(data).hexdigest()
        assert manifest[path].mode == mode  # exact, whatever the umask
    assert (sshd.remote_root / "www/door.mp3").read_bytes() == sound.read_bytes()
    assert leftovers(sshd.remote_root) == []  # the staging directory is gone


async def test_uploads_of_many_megabytes_are_streamed(
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streamed, "STREAM_MIN_BYTES", 10)
    sent: list[int] = []
    original = streamed.upload_streamed

    async def spy(*args: Any) -> int:
        sent.append(await original(*args))
        return sent[-1]

    monkeypatch.setattr(streamed, "upload_streamed", spy)
    await remote.upload(str(sshd.remote_root), [UploadFile("a.yaml", data=b"a: 1\n" * 4)])
    assert sent == [20]
    assert (sshd.remote_root / "a.yaml").read_bytes() == b"a: 1\n" * 4


async def test_a_streamed_upload_never_writes_through_a_symlink_out_of_the_root(
    remote: SSHHost, sshd: Any
) -> None:
    outside = sshd.workdir / "outside"
    outside.mkdir()
    (sshd.remote_root / "link").symlink_to(outside)
    with pytest.raises(PathOutsideRoot, match="is a symlink to"):
        await remote.upload(
            str(sshd.remote_root), [UploadFile("link/evil.txt", data=b"x")], stream=True
        )
    assert list(outside.iterdir()) == []
    assert leftovers(sshd.remote_root) == []


async def test_what_a_killed_upload_left_is_cleaned(remote: SSHHost, sshd: Any) -> None:
    staging = sshd.remote_root / f"{STAGING_PREFIX}dead01"
    (staging / "packages").mkdir(parents=True)
    (staging / "packages" / "half.yaml").write_text("half")
    (sshd.remote_root / "keep").mkdir()
    (sshd.remote_root / "keep" / f"{TEMP_PREFIX}abc").write_text("half")
    (sshd.remote_root / "keep" / "mine.yaml").write_text("mine")

    await remote.remove_temporaries(str(sshd.remote_root))

    assert leftovers(sshd.remote_root) == []
    assert (sshd.remote_root / "keep" / "mine.yaml").read_text() == "mine"


async def test_a_full_disk_stops_a_streamed_upload_before_any_file_is_replaced(
    remote: SSHHost, sshd: Any
) -> None:
    small = sshd.remote_root / "small"
    with TinyFilesystem(small, size_bytes=256 * 1024):
        await remote.upload(str(small), [UploadFile("existing.yaml", data=b"old\n")])
        with pytest.raises(DiskFull):
            await remote.upload(
                str(small),
                [
                    UploadFile("existing.yaml", data=b"new\n" * 100_000),
                    UploadFile("other.bin", data=os.urandom(512 * 1024)),
                ],
                stream=True,
            )
        assert (small / "existing.yaml").read_bytes() == b"old\n"
        assert sorted(p.name for p in small.iterdir()) == ["existing.yaml"]


async def test_an_abandoned_stream_returns_only_once_nothing_remote_writes_any_more(
    remote: SSHHost, sshd: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancelled deployment abandons its staged upload. Cutting the stream left the remote
    shell running (it starts late on a busy host: here, one second late), so its ``mkdir``
    and ``tar`` could recreate the staging directory after it was removed."""
    monkeypatch.setattr(streamed, "STREAM_MIN_BYTES", 1)
    original = streamed._send
    marker = f"hearth-late-{os.getpid()}-{tmp_path.name}"

    async def late(host: Any, command: str, *args: Any) -> tuple[int, int, str]:
        return await original(host, f": {marker}; sleep 1; {command}", *args)

    monkeypatch.setattr(streamed, "_send", late)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 * 1024 * 1024))
    staged = await remote.stage_upload(
        str(sshd.remote_root), [UploadFile("www/big.bin", mode=0o644, source=big)]
    )
    assert staged is not None

    def running() -> list[str]:
        found = subprocess.run(["pgrep", "-f", marker], check=False, capture_output=True, text=True)
        return found.stdout.split()

    async with asyncio.timeout(30):  # until the remote shell runs (it sleeps, then writes)
        while len(running()) < 2:  # the local ssh and the remote shell
            await asyncio.sleep(0.02)
    await staged.abandon()

    assert running() == []
    assert leftovers(sshd.remote_root) == []
