"""What a deployment asks of its host, counted against a real sshd: a root resolved once
per deployment, a backup folder that exists found in two requests, and no backup's JSON
read when none is to be pruned. Each was a few round trips per deployment, times twenty
in a fan-out."""

from __future__ import annotations

from typing import Any

import asyncssh
import pytest

from hearth_deployer.remote import Backups, SSHHost
from hearth_deployer.remote.port import session_scope
from tests.contract.remote_host import seed
from tests.support.spies import spy

pytestmark = pytest.mark.integration


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
    remote: SSHHost, sshd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, dest = str(sshd.remote_root), f"{sshd.workdir}/backups"
    await seed(remote, root)
    backups = Backups(remote)
    for n in (1, 2):
        await backups.take(root, ["configuration.yaml"], dest, f"b{n}")
    reads = spy(monkeypatch, SSHHost, "read_many")
    assert await backups.prune(dest, keep=2) == []
    assert reads == []
    assert await backups.prune(dest, keep=1) == ["b1"]
    assert len(reads) == 1
    assert [b.backup_id for b in await backups.kept(dest)] == ["b2"]
