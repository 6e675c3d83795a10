"""A small backup packed in the deployer from files read over SFTP (no command on the
host), against a real sshd: its archive holds what GNU ``tar`` would, the host's own
``tar -xzpf`` restores it exactly, and whatever it cannot pack goes to the host's tar."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from hearth_deployer.remote import BackupCorrupt, Backups, SSHHost, UploadFile
from hearth_deployer.remote.errors import RemoteError
from hearth_deployer.remote.packhere import PACK_HERE_BYTES, PACK_HERE_FILES
from hearth_deployer.remote.pool import HostPool
from hearth_deployer.remote.port import session_scope
from hearth_deployer.remote.session import SSHSession
from tests.integration.remote.conftest import target_for
from tests.integration.remote.test_connections import sftp_server_of
from tests.integration.remote.test_round_trips import sent_together, trace_requests
from tests.support.spies import spy

pytestmark = pytest.mark.integration

FILES = {
    "configuration.yaml": (b"homeassistant:\n  name: Home\n", 0o640),
    "scripts/night mode.sh": (b"#!/bin/sh\necho night\n", 0o755),
    "odd/new\nline.yaml": (b"odd: true\n", 0o600),
    "empty.yaml": (b"", 0o644),
}


async def put_files(remote: SSHHost, root: Path) -> None:
    await remote.upload(str(root), [UploadFile(p, data=d, mode=m) for p, (d, m) in FILES.items()])
    for n, path in enumerate(FILES):
        os.utime(root / path, (1_600_000_000 + n, 1_600_000_000 + n))  # an old, odd time each


def members(archive: Path) -> list[tuple[Any, ...]]:
    with tarfile.open(archive, "r:gz") as tar:
        return [(m.name, m.type, m.size, m.mode, m.uid, m.gid, m.mtime) for m in tar]


def stats(root: Path, paths: list[str]) -> dict[str, tuple[bytes, int, int, int, int]]:
    """Each file's bytes, mode, owner and modification time to the second (what a
    tar archive in GNU format keeps)."""
    found = {}
    for path in paths:
        st = (root / path).lstat()
        found[path] = (
            (root / path).read_bytes(),
            st.st_mode,
            st.st_uid,
            st.st_gid,
            int(st.st_mtime),
        )
    return found


async def test_a_small_backup_runs_no_command_and_holds_what_gnu_tar_would(
    remote: SSHHost, sshd: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = sshd.remote_root
    await put_files(remote, root)
    paths = sorted(FILES)
    before = stats(root, paths)
    commands = spy(monkeypatch, SSHSession, "run_raw")
    info = await Backups(remote).take(str(root), paths, f"{sshd.workdir}/backups", "b1")
    assert commands == []  # packed here: no shell, tar, gzip or sha256sum on the host
    assert oct(Path(info.archive).stat().st_mode & 0o777) == "0o600"
    # GNU tar, given the same files, archives the same entries.
    listed = tmp_path / "list"
    listed.write_bytes(b"".join(p.encode() + b"\0" for p in paths))
    reference = tmp_path / "reference.tar.gz"
    subprocess.run(
        ["tar", "-czf", reference, "-C", root, "--no-recursion", "--null", "-T", listed],
        check=True,
    )
    assert members(Path(info.archive)) == members(reference)

    # Changed, then put back by the host's own `tar -xzpf`: bytes, mode and time exactly.
    await remote.upload(str(root), [UploadFile(p, data=b"changed", mode=0o600) for p in paths])
    await Backups(remote).restore(str(root), info, touched=paths)
    assert len(commands) > 0  # the restore's tar ran on the host
    assert stats(root, paths) == before


async def test_a_small_backup_takes_four_round_trips(
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file's LSTAT (the archive's OPEN beside it), the file's OPEN, then READ
    beside CLOSE; then the archive's WRITE, fsync, READ (back) and CLOSE together. (That
    a file is opened only after its LSTAT: the FIFO test below.)"""
    root = sshd.remote_root
    await put_files(remote, root)
    dest = f"{sshd.workdir}/backups"
    async with session_scope():
        real_root, real_dest = await remote.real_root(str(root)), await remote.private_dir(dest)
        trace = trace_requests(monkeypatch)
        packed = await remote.pack(real_root, ["configuration.yaml"], f"{real_dest}/x.partial")
    assert packed.entries == 1 and packed.beside == 0
    lstat, open_, read = asyncssh.FXP_LSTAT, asyncssh.FXP_OPEN, asyncssh.FXP_READ
    write, close = asyncssh.FXP_WRITE, asyncssh.FXP_CLOSE
    # The folder's listing, the archive's OPEN and the file's LSTAT go out at once.
    first = trace[:3]
    assert all(what == "sent" for what, _ in first), trace
    assert sorted(kind for _, kind in first) == sorted([asyncssh.FXP_OPENDIR, open_, lstat])
    assert sent_together(trace, [read, close]), trace
    assert sent_together(trace, [write, b"fsync@openssh.com", read, close]), trace


@pytest.mark.parametrize("why", ["symlink", "big", "many"])
async def test_what_cannot_be_packed_here_is_packed_by_the_hosts_tar(
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    root = sshd.remote_root
    await put_files(remote, root)
    paths = sorted(FILES)
    if why == "symlink":  # packed as a link, not as what it points to
        (root / "link.yaml").symlink_to("configuration.yaml")
        paths.append("link.yaml")
    elif why == "big":
        await remote.upload(str(root), [UploadFile("big.bin", data=os.urandom(PACK_HERE_BYTES))])
        paths.append("big.bin")
    else:
        extra = [f"more/{n}.yaml" for n in range(PACK_HERE_FILES)]
        await remote.upload(str(root), [UploadFile(p, data=b"x: 1\n") for p in extra])
        paths += extra
    before = stats(root, paths)
    commands = spy(monkeypatch, SSHSession, "run_raw")
    info = await Backups(remote).take(str(root), paths, f"{sshd.workdir}/backups", "b1")
    assert [c for c in commands if "tar -czf" in c[1]]  # the host's tar packed it
    assert not list(Path(f"{sshd.workdir}/backups").glob("*.partial"))

    await remote.upload(str(root), [UploadFile("configuration.yaml", data=b"changed")])
    if why == "symlink":
        (root / "link.yaml").unlink()
        (root / "link.yaml").write_text("no longer a link")
    await Backups(remote).restore(str(root), info, touched=paths)
    assert stats(root, paths) == before
    if why == "symlink":
        assert (root / "link.yaml").is_symlink()


async def test_a_small_backup_on_an_ended_sftp_session_drops_its_connection(
    pool: HostPool, remote: SSHHost, sshd: Any
) -> None:
    """The session ended under the backup's reads: one line naming it, the connection
    dropped, and the next backup packed whole on a new one."""
    root, dest = sshd.remote_root, f"{sshd.workdir}/backups"
    await put_files(remote, root)
    pooled = pool._connections[target_for(sshd).key]
    server = sftp_server_of(sshd)
    server.kill()
    server.wait(5)
    with pytest.raises(RemoteError, match=r"SFTP session .* ended") as failed:
        await remote.pack(str(root), ["configuration.yaml"], f"{dest}/x.partial")
    assert "\n" not in str(failed.value)
    assert pooled.lost
    info = await Backups(remote).take(str(root), ["configuration.yaml"], dest, "b1")
    assert info.file_count == 1


async def test_an_archive_that_reads_back_other_than_written_is_refused(
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the host hands back is what the backup's sha256 describes: an archive that
    does not read back as written is refused, and removed."""
    from hearth_deployer.remote import packhere

    root, dest = sshd.remote_root, f"{sshd.workdir}/backups"
    await put_files(remote, root)
    written = packhere._write_and_read_back

    async def flipped(handle: Any, data: bytes) -> bytes:
        back = await written(handle, data)
        return back[:-1] + bytes([back[-1] ^ 1])

    monkeypatch.setattr(packhere, "_write_and_read_back", flipped)
    with pytest.raises(BackupCorrupt, match="read back other than written") as refused:
        await Backups(remote).take(str(root), ["configuration.yaml"], dest, "b1")
    assert "\n" not in str(refused.value)
    assert sorted(p.name for p in Path(dest).iterdir()) == []


async def test_a_fifo_among_the_files_is_never_opened(
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a FIFO blocks the host's SFTP server until a writer comes, and every
    request of the session behind it: one is left to the host's tar, which archives it
    as a FIFO, and the restore makes it again."""
    root, dest = sshd.remote_root, f"{sshd.workdir}/backups"
    await put_files(remote, root)
    os.mkfifo(root / "pipe.yaml")
    (root / "link.yaml").symlink_to("pipe.yaml")
    commands = spy(monkeypatch, SSHSession, "run_raw")
    paths = ["configuration.yaml", "link.yaml", "pipe.yaml"]
    async with asyncio.timeout(30):
        info = await Backups(remote).take(str(root), paths, dest, "b1")
        assert [c for c in commands if "tar -czf" in c[1]]
        (root / "pipe.yaml").unlink()
        (root / "link.yaml").unlink()
        await Backups(remote).restore(str(root), info, touched=paths)
    assert stat.S_ISFIFO((root / "pipe.yaml").lstat().st_mode)
    assert (root / "link.yaml").is_symlink()
