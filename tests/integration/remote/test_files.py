"""Uploads, manifests, removals and path confinement against a real sshd."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from hearth_deployer.remote import (
    Backups,
    DiskFull,
    HostPool,
    PathOutsideRoot,
    RemotePathError,
    RemotePathMissing,
    RemotePermissionDenied,
    SSHHost,
    UploadFile,
)
from tests.integration.remote.conftest import local_manifest, target_for
from tests.support.sshd import TinyFilesystem

pytestmark = pytest.mark.integration

AWKWARD_NAMES = {
    "configuration.yaml": (b"homeassistant:\n  name: Home\n", 0o644),
    "scripts/run me.sh": (b"#!/bin/sh\necho hi\n", 0o755),
    "packages/k\u00fcche \u2615.yaml": ("licht: k\u00fcche\n".encode(), 0o644),
    "odd/new\nline.txt": (b"two\nlines\n", 0o600),
    "deep/a/b/c/d.json": (b"{}", 0o640),
}


def uploads(files: dict[str, tuple[bytes, int]]) -> list[UploadFile]:
    return [UploadFile(path, mode=mode, data=data) for path, (data, mode) in files.items()]


async def test_upload_then_manifest_round_trip(remote: SSHHost, sshd: Any) -> None:
    root = str(sshd.remote_root)
    result = await remote.upload(root, uploads(AWKWARD_NAMES))
    assert result.bytes_sent == sum(len(data) for data, _ in AWKWARD_NAMES.values())

    manifest = await remote.manifest(root)
    assert manifest == local_manifest(sshd.remote_root)
    assert sorted(manifest) == sorted(AWKWARD_NAMES)
    for path, (data, mode) in AWKWARD_NAMES.items():
        assert manifest[path].sha256 == hashlib.sha256(data).hexdigest()
        assert manifest[path].mode == mode
        assert (sshd.remote_root / path).read_bytes() == data
    # The SFTP fallback (for hosts without GNU find/stat/sha256sum) agrees exactly.
    assert await remote.manifest_over_sftp(root) == manifest


async def test_upload_from_local_files(remote: SSHHost, sshd: Any, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    result = await remote.upload(
        str(sshd.remote_root), [UploadFile("media/big.bin", mode=0o600, source=source)]
    )
    assert result.bytes_sent == source.stat().st_size
    assert (sshd.remote_root / "media/big.bin").read_bytes() == source.read_bytes()


async def test_manifest_skips_ignored_paths_and_hearth_work_files(
    remote: SSHHost, sshd: Any
) -> None:
    root = sshd.remote_root
    for rel in (
        "configuration.yaml",
        "secrets.yaml",
        ".storage/core.config",
        "sub/.storage/kept.txt",  # `.storage/` without a slash matches at any depth
        "home-assistant_v2.db",
        "sub/.hearth-tmp-0123abcd",  # an upload interrupted by a crash
        ".hearth-restore-abc/configuration.yaml",
        "blueprints/x.yaml",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    ignore = (".storage/", "secrets.yaml", "*.db")
    manifest = await remote.manifest(str(root), ignore)
    assert sorted(manifest) == ["blueprints/x.yaml", "configuration.yaml"]
    assert await remote.manifest_over_sftp(str(root), ignore) == manifest


async def test_replacing_a_file_is_atomic_for_readers(remote: SSHHost, sshd: Any) -> None:
    root = str(sshd.remote_root)
    old, new = b"A" * 4 * 1024 * 1024, b"B" * 4 * 1024 * 1024
    await remote.upload(root, [UploadFile("config.bin", data=old)])
    allowed = {hashlib.sha256(old).digest(), hashlib.sha256(new).digest()}
    target = sshd.remote_root / "config.bin"
    seen: list[bytes] = []
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set():
            seen.append(hashlib.sha256(await asyncio.to_thread(target.read_bytes)).digest())
            await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    await remote.upload(root, [UploadFile("config.bin", data=new)])
    done.set()
    await reading
    assert len(seen) > 1
    assert set(seen) <= allowed  # never a truncated or half-written file
    assert target.read_bytes() == new
    assert [p.name for p in sshd.remote_root.iterdir()] == ["config.bin"]  # no temp files


async def test_only_changed_files_are_sent(remote: SSHHost, sshd: Any) -> None:
    root = str(sshd.remote_root)
    tree = {f"automations/a{i:03}.yaml": (f"- id: a{i}\n".encode() * 20, 0o644) for i in range(60)}
    first = await remote.upload(root, uploads(tree))
    assert first.bytes_sent == sum(len(d) for d, _ in tree.values())

    desired = dict(tree)
    desired["automations/a007.yaml"] = (b"- id: changed\n", 0o644)
    desired["automations/new.yaml"] = (b"- id: new\n", 0o644)
    current = await remote.manifest(root)
    changed = {
        path: value
        for path, value in desired.items()
        if path not in current or current[path].sha256 != hashlib.sha256(value[0]).hexdigest()
    }
    assert sorted(changed) == ["automations/a007.yaml", "automations/new.yaml"]
    second = await remote.upload(root, uploads(changed))
    assert second.bytes_sent == len(b"- id: changed\n") + len(b"- id: new\n")
    assert await remote.manifest(root) == local_manifest(sshd.remote_root)
    assert len(local_manifest(sshd.remote_root)) == 61


async def test_remove_deletes_and_tolerates_missing_files(remote: SSHHost, sshd: Any) -> None:
    root = str(sshd.remote_root)
    await remote.upload(root, uploads({"a.yaml": (b"a", 0o644), "d/b.yaml": (b"b", 0o644)}))
    removed = await remote.remove(root, ["a.yaml", "d/b.yaml", "never.yaml", "nodir/x"])
    assert removed == ["a.yaml", "d/b.yaml"]
    assert local_manifest(sshd.remote_root) == {}


async def test_missing_root_is_a_clear_error(remote: SSHHost, sshd: Any) -> None:
    missing = str(sshd.remote_root / "not-there")
    with pytest.raises(RemotePathMissing, match="not-there does not exist"):
        await remote.manifest(missing)
    with pytest.raises(RemotePathMissing):
        await remote.upload(missing, [UploadFile("a", data=b"a")])


async def test_a_file_where_a_directory_is_expected(remote: SSHHost, sshd: Any) -> None:
    (sshd.remote_root / "automations").write_text("not a directory")
    with pytest.raises(RemotePathError, match="is a file where a directory is expected"):
        await remote.upload(str(sshd.remote_root), [UploadFile("automations/x.yaml", data=b"")])


@pytest.mark.parametrize("path", ["../escape.txt", "a/../../escape.txt", "/etc/passwd"])
async def test_paths_leaving_the_root_are_refused(remote: SSHHost, sshd: Any, path: str) -> None:
    root = str(sshd.remote_root)
    with pytest.raises(PathOutsideRoot):
        await remote.upload(root, [UploadFile(path, data=b"owned")])
    with pytest.raises(PathOutsideRoot):
        await remote.remove(root, [path])
    with pytest.raises(PathOutsideRoot):
        await Backups(remote).take(root, [path], str(sshd.workdir / "backups"), "b1")
    assert not (sshd.remote_root.parent / "escape.txt").exists()


async def test_a_remote_symlink_out_of_the_root_is_refused(remote: SSHHost, sshd: Any) -> None:
    outside = sshd.workdir / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("keep me")
    (sshd.remote_root / "link").symlink_to(outside)
    root = str(sshd.remote_root)
    with pytest.raises(PathOutsideRoot, match="is a symlink to"):
        await remote.upload(root, [UploadFile("link/new/evil.txt", data=b"x")])
    with pytest.raises(PathOutsideRoot):
        await remote.remove(root, ["link/victim.txt"])
    with pytest.raises(PathOutsideRoot):
        await Backups(remote).take(root, ["link/victim.txt"], str(sshd.workdir / "backups"), "b1")
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]  # nothing created
    assert (outside / "victim.txt").read_text() == "keep me"
    # The manifest does not follow it either.
    assert await remote.manifest(root) == {}


async def test_a_symlink_that_stays_inside_the_root_is_followed(remote: SSHHost, sshd: Any) -> None:
    (sshd.remote_root / "real").mkdir()
    (sshd.remote_root / "alias").symlink_to(sshd.remote_root / "real")
    await remote.upload(str(sshd.remote_root), [UploadFile("alias/x.yaml", data=b"x")])
    assert (sshd.remote_root / "real/x.yaml").read_bytes() == b"x"


async def test_permission_denied_names_user_and_path(sshd_factory: Any, pool: HostPool) -> None:
    if os.getuid() == 0:
        # root ignores file permissions, so log in as an ordinary user instead; `nobody`
        # exists everywhere and needs no shell (SFTP runs in sshd's internal-sftp).
        server = sshd_factory(user="nobody")
        locked = server.remote_root / "locked"
        locked.mkdir()
        os.chown(locked, 0, 0)
        locked.chmod(0o755)
    else:
        server = sshd_factory()
        locked = server.remote_root / "locked"
        locked.mkdir()
        locked.chmod(0o555)
    host = SSHHost(pool, target_for(server))
    with pytest.raises(RemotePermissionDenied) as caught:
        await host.upload(str(locked), [UploadFile("configuration.yaml", data=b"x")])
    message = str(caught.value)
    assert f"{server.user}@127.0.0.1" in message
    assert f"{locked}/configuration.yaml" in message
    assert list(locked.iterdir()) == []


async def test_disk_full_is_reported_and_leaves_no_partial_file(remote: SSHHost, sshd: Any) -> None:
    small = sshd.remote_root / "small"
    with TinyFilesystem(small, size_bytes=256 * 1024):
        await remote.upload(str(small), [UploadFile("existing.yaml", data=b"old\n")])
        free = await remote.free_space(str(small))
        assert 0 < free <= 256 * 1024
        with pytest.raises(DiskFull) as caught:
            await remote.upload(
                str(small),
                [
                    UploadFile("existing.yaml", data=b"new\n" * 100_000),
                    UploadFile("other.bin", data=os.urandom(512 * 1024)),
                ],
            )
        assert "no space left" in str(caught.value)
        assert caught.value.path.startswith(str(small))
        # The old file is intact and no temporary file is left behind.
        assert (small / "existing.yaml").read_bytes() == b"old\n"
        assert sorted(p.name for p in small.iterdir()) == ["existing.yaml"]


async def test_free_space_reports_the_file_system(remote: SSHHost, sshd: Any) -> None:
    stats = os.statvfs(sshd.remote_root)
    free = await remote.free_space(str(sshd.remote_root))
    assert abs(free - stats.f_bavail * stats.f_frsize) < 64 * 1024 * 1024


async def test_files_for_a_diff_are_read_whole_whatever_their_size(
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(sshd.remote_root)
    small, big = b"small: 1\n", os.urandom(100_000)  # one READ; more than one READ holds
    (sshd.remote_root / "sub").mkdir()
    (sshd.remote_root / "small.yaml").write_bytes(small)
    (sshd.remote_root / "sub/big.bin").write_bytes(big)
    (sshd.remote_root / "over.bin").write_bytes(b"x" * 200_001)
    names = ["small.yaml", "sub/big.bin", "over.bin", "gone.yaml"]
    assert await remote.read_files(root, names, limit=200_000) == {
        "small.yaml": small,
        "sub/big.bin": big,
        "over.bin": None,  # over the limit
        "gone.yaml": None,
    }
    # A file that grew between its LSTAT and its READ is read again, whole.
    real_lstat = asyncssh.SFTPClient.lstat

    async def stale(client: asyncssh.SFTPClient, path: Any, **kwargs: Any) -> Any:
        attrs = await real_lstat(client, path, **kwargs)
        if str(path).endswith("small.yaml"):
            attrs.size = 3
        return attrs

    monkeypatch.setattr(asyncssh.SFTPClient, "lstat", stale)
    assert await remote.read_files(root, ["small.yaml"], limit=100) == {"small.yaml": small}


async def test_a_file_read_for_a_diff_through_a_symlink_out_of_the_root_is_refused(
    remote: SSHHost, sshd: Any
) -> None:
    outside = sshd.workdir / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours")
    (sshd.remote_root / "link").symlink_to(outside)
    with pytest.raises(PathOutsideRoot):
        await remote.read_files(str(sshd.remote_root), ["link/secret.txt"], limit=100)
