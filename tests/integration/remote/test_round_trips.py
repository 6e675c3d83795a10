"""What a deployment asks of its host, counted against a real sshd: a root resolved once
per deployment, a backup folder that exists found in two requests, and no backup's JSON
read when none is to be pruned. Each was a few round trips per deployment, times twenty
in a fan-out."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncssh
import pytest

from hearth_deployer.remote import Backups, SSHHost
from hearth_deployer.remote.port import UploadFile, session_scope
from tests.contract.remote_host import seed
from tests.support.spies import spy

pytestmark = pytest.mark.integration


@dataclass
class Backed:
    """A seeded root on the sshd, a backup folder beside it, and their backups."""

    root: str
    dest: str
    backups: Backups

    async def take(self, backup_id: str, *, keep: int | None = 10) -> None:
        await self.backups.take(self.root, ["configuration.yaml"], self.dest, backup_id, keep=keep)


@pytest.fixture
async def backed(remote: SSHHost, sshd: Any) -> AsyncIterator[Backed]:
    root = str(sshd.remote_root)
    await seed(remote, root)
    yield Backed(root, f"{sshd.workdir}/backups", Backups(remote))


async def test_a_root_is_resolved_once_per_deployment(
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(sshd.remote_root)
    await seed(remote, root)
    asked = spy(monkeypatch, asyncssh.SFTPClient, "realpath")  # (client, path) each
    async with session_scope():
        await remote.manifest(root)
        await remote.real_root(root)
        await remote.existing(root, ["configuration.yaml"])
    assert [args[1] for args in asked].count(root) == 1
    await remote.real_root(root)  # a new deployment asks again
    assert [args[1] for args in asked].count(root) == 2


async def test_a_root_that_is_missing_is_not_remembered(remote: SSHHost, sshd: Any) -> None:
    root = f"{sshd.remote_root}/later"
    async with session_scope():
        with pytest.raises(Exception, match="later"):
            await remote.real_root(root)
        (sshd.remote_root / "later").mkdir()
        assert await remote.real_root(root) == root


async def test_a_backup_folder_that_exists_is_not_made_again(
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = spy(monkeypatch, asyncssh.SFTPClient, "makedirs")
    path = f"{sshd.workdir}/backups/deep/er"
    first = await remote.private_dir(path)
    assert oct((sshd.workdir / "backups" / "deep" / "er").stat().st_mode & 0o777) == "0o700"
    assert await remote.private_dir(path) == first
    assert [args[1] for args in made] == [path]  # only the first call made it
    (sshd.workdir / "a-file").write_text("not a folder")
    with pytest.raises(Exception, match="a-file"):
        await remote.private_dir(f"{sshd.workdir}/a-file")


async def test_pruning_reads_no_backup_while_none_is_over_the_limit(
    backed: Backed, monkeypatch: pytest.MonkeyPatch
) -> None:
    backups, dest = backed.backups, backed.dest
    for n in (1, 2):
        await backed.take(f"b{n}")
    reads = spy(monkeypatch, SSHHost, "read_many")
    assert await backups.prune(dest, keep=2) == []
    assert reads == []
    assert await backups.prune(dest, keep=1) == ["b1"]
    assert len(reads) == 1
    assert [b.backup_id for b in await backups.kept(dest)] == ["b2"]


async def test_pruning_stamped_backups_reads_none_of_them(
    backed: Backed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its limit, a target prunes at every deployment: its backups' names (when each
    was taken) say which go, where reading each JSON cost three requests per backup."""
    reads = spy(monkeypatch, SSHHost, "read_many")
    for n in range(1, 5):
        await backed.take(f"20261206T10000{n}Z-x", keep=2)
    assert reads == []
    assert sorted(os.listdir(backed.dest)) == [
        f"20261206T10000{n}Z-x.{ext}" for n in (3, 4) for ext in ("json", "tar.gz")
    ]


async def test_pruning_reads_only_the_backups_of_a_second_the_cut_falls_in(
    backed: Backed, monkeypatch: pytest.MonkeyPatch
) -> None:
    for backup_id in ("20261206T100001Z-b", "20261206T100001Z-a", "20261206T100002Z-c"):
        await backed.take(backup_id, keep=3)
    reads = spy(monkeypatch, SSHHost, "read_many")
    # b and a were taken in the same second, and only one of them stays: their JSON
    # says b is the older one, though its name sorts after a's.
    await backed.take("20261206T100003Z-d", keep=3)
    assert len(reads) == 1
    assert not os.path.exists(f"{backed.dest}/20261206T100001Z-b.json")
    # The cut now falls between seconds: nothing is read.
    await backed.take("20261206T100004Z-e", keep=3)
    assert len(reads) == 1
    assert sorted(os.listdir(backed.dest)) == [
        f"20261206T10000{n}Z-{x}.{ext}"
        for n, x in ((2, "c"), (3, "d"), (4, "e"))
        for ext in ("json", "tar.gz")
    ]


async def test_a_file_for_a_diff_is_read_without_asking_its_size_again(
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncssh's ``read()`` asks for the size (``FSTAT``) and closes only after the data
    came: two of the five round trips a file cost across a slow link."""
    root = str(sshd.remote_root)
    (sshd.remote_root / "automations").mkdir()
    for n in range(3):
        (sshd.remote_root / f"automations/{n}.yaml").write_text(f"- id: a{n}\n")
    await remote.real_root(root)  # the session, already open in a deployment
    sent = spy(monkeypatch, asyncssh.sftp.SFTPClientHandler, "_send_request")
    paths = [f"automations/{n}.yaml" for n in range(3)]
    read = await remote.read_files(root, paths, limit=1000)
    assert read == {p: f"- id: a{n}\n".encode() for n, p in enumerate(paths)}
    kinds = [args[1] for args in sent]
    assert asyncssh.FXP_FSTAT not in kinds
    # Per file its LSTAT, OPEN, READ and CLOSE; the folder's check once, the root's twice.
    assert len(kinds) == 3 * 4 + 1 + 2


def trace_requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """The SFTP client's requests as it sends them (``("sent", type)``) and its answers
    as it takes them in (``("answer", None)``), in order."""
    handler = asyncssh.sftp.SFTPClientHandler
    trace: list[tuple[str, Any]] = []
    send, answer = handler._send_request, handler._process_packet

    def sent(self: Any, pkttype: Any, *args: Any) -> Any:
        trace.append(("sent", pkttype))
        return send(self, pkttype, *args)

    async def answered(self: Any, *args: Any) -> Any:
        trace.append(("answer", None))
        return await answer(self, *args)

    monkeypatch.setattr(handler, "_send_request", sent)
    monkeypatch.setattr(handler, "_process_packet", answered)
    return trace


def sent_together(trace: list[tuple[str, Any]], kinds: list[Any]) -> bool:
    """Whether ``kinds`` were sent in this order with no answer taken in between."""
    sends = [i for i, (what, kind) in enumerate(trace) if what == "sent"]
    for n, start in enumerate(sends):
        window = [trace[i][1] for i in sends[n : n + len(kinds)]]
        if window == kinds:
            last = sends[n + len(kinds) - 1]
            return all(what == "sent" for what, _ in trace[start : last + 1])
    return False


async def test_a_small_file_is_written_moded_synced_and_closed_in_one_round_trip(
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(sshd.remote_root)
    await remote.real_root(root)
    trace = trace_requests(monkeypatch)
    await remote.upload(root, [UploadFile("a.yaml", data=b"a: 1\n", mode=0o640)])
    write, setstat, close = asyncssh.FXP_WRITE, asyncssh.FXP_FSETSTAT, asyncssh.FXP_CLOSE
    assert sent_together(trace, [write, setstat, b"fsync@openssh.com", close]), trace
    assert (sshd.remote_root / "a.yaml").read_bytes() == b"a: 1\n"
    assert oct((sshd.remote_root / "a.yaml").stat().st_mode & 0o777) == "0o640"
    # A file too big for one WRITE goes the usual way, and arrives whole too.
    big = os.urandom(100_000)
    await remote.upload(root, [UploadFile("big.bin", data=big, mode=0o600)])
    assert (sshd.remote_root / "big.bin").read_bytes() == big


async def test_a_backup_lists_its_folder_once_even_when_it_makes_one_too_many(
    backed: Backed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packing lists the folder beside its other requests, to count the backups there;
    one too many are pruned from that listing, not from a second one."""
    listed = spy(monkeypatch, SSHHost, "list_dir")
    trace = trace_requests(monkeypatch)
    for n in (1, 2):
        await backed.take(f"b{n}", keep=2)
    # The backup's description: its write and close in one round trip.
    assert sent_together(trace, [asyncssh.FXP_WRITE, asyncssh.FXP_CLOSE]), trace
    trace.clear()
    await backed.take("b3", keep=2)
    assert listed == []
    assert trace.count(("sent", asyncssh.FXP_OPENDIR)) == 1
    assert [b.backup_id for b in await backed.backups.kept(backed.dest)] == ["b3", "b2"]


async def test_a_root_a_backup_folder_and_a_file_in_a_folder_take_one_round_trip_each(
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, dest = str(sshd.remote_root), f"{sshd.workdir}/backups"
    (sshd.remote_root / "sub").mkdir()
    (sshd.remote_root / "sub/x.yaml").write_text("x: 1\n")
    await remote.private_dir(dest)  # made, the first time
    trace = trace_requests(monkeypatch)
    realpath, stat, lstat = asyncssh.FXP_REALPATH, asyncssh.FXP_STAT, asyncssh.FXP_LSTAT
    assert await remote.real_root(root) == root
    assert sent_together(trace, [realpath, stat]), trace
    trace.clear()
    assert await remote.private_dir(dest) == dest
    assert sent_together(trace, [realpath, stat]), trace
    trace.clear()
    async with session_scope():
        await remote.real_root(root)
        trace.clear()
        assert (await remote.existing(root, ["sub/x.yaml"])).present == ["sub/x.yaml"]
        assert sent_together(trace, [lstat, lstat]), trace  # the folder's and the file's
        found = await remote.existing(root, ["sub/x.yaml", "sub/no.yaml", "new/y.yaml"])
    assert (found.present, found.absent, found.absent_dirs) == (
        ["sub/x.yaml"],
        ["sub/no.yaml", "new/y.yaml"],
        ("new",),
    )
