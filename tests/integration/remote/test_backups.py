"""Backups on the target and exact restores, against a real sshd: what only a real disk
shows (the archive's bytes and mode, directories, names tar could misread). Keeping,
pruning, corrupt archives and refused places are in the contract (tests/contract/
remote_host.py), which runs on sshd as well."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.remote import BackupCorrupt, Backups, SSHHost, UploadFile
from tests.contract.remote_host import BEFORE, TOUCHED, half_deploy, seed
from tests.integration.remote.conftest import local_manifest

pytestmark = pytest.mark.integration


def local_dirs(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir()}


async def test_backup_modify_restore_is_byte_identical(remote: SSHHost, sshd: Any) -> None:
    root, backups = str(sshd.remote_root), str(sshd.workdir / "backups")
    await seed(remote, root)
    (sshd.remote_root / "www").mkdir()  # empty before, and must stay
    before = await remote.manifest(root)
    dirs_before = local_dirs(sshd.remote_root)

    touched = [*TOUCHED, "www/card.js"]
    info = await Backups(remote).take(root, touched, backups, "deploy-1")
    assert info.file_count == 4
    assert info.absent == ("packages/lights/hue.yaml", "packages/new.yaml", "www/card.js")
    assert info.absent_dirs == ("packages/lights", "packages")
    archive = sshd.workdir / "backups" / "deploy-1.tar.gz"
    assert info.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert info.size == archive.stat().st_size
    assert oct(archive.stat().st_mode & 0o777) == "0o600"  # backups can hold secrets

    await half_deploy(remote, root, UploadFile("www/card.js", data=b"card\n"))
    assert await remote.manifest(root) != before

    result = await Backups(remote).restore(root, info, touched=touched)
    assert sorted(result.restored) == sorted(set(touched) - set(info.absent))
    assert result.removed == info.absent
    assert result.removed_dirs == ("packages/lights", "packages")
    after = await remote.manifest(root)
    assert after == before
    assert local_dirs(sshd.remote_root) == dirs_before
    assert after == local_manifest(sshd.remote_root)
    assert after["scripts/night mode.sh"].mode == 0o755
    # No staging directory is left behind.
    assert not [p for p in sshd.remote_root.iterdir() if p.name.startswith(".hearth")]


async def test_whole_tree_backup_respects_ignores(remote: SSHHost, sshd: Any) -> None:
    root, backups = str(sshd.remote_root), str(sshd.workdir / "backups")
    await seed(remote, root)
    await remote.upload(root, [UploadFile(".storage/core.config", data=b"{}")])
    info = await Backups(remote).take(root, None, backups, "full-1", ignore=(".storage/",))
    assert sorted(info.files) == sorted(BEFORE)
    listing = await remote.run(f"tar -tzf {info.archive} | wc -l")
    # GNU tar escapes the newline in "odd/new\nline.yaml", so one line per member.
    assert listing.stdout.strip() == str(len(BEFORE))

    (sshd.remote_root / "configuration.yaml").write_text("wrecked")
    await Backups(remote).restore(root, info)
    assert (sshd.remote_root / "configuration.yaml").read_bytes() == BEFORE["configuration.yaml"]
    assert (sshd.remote_root / ".storage/core.config").read_bytes() == b"{}"


@pytest.mark.parametrize("listed", ["../configuration.yaml", "../../etc/x", "a/../b", "/etc/x"])
async def test_a_backup_listing_a_path_outside_the_root_is_refused(
    remote: SSHHost, sshd: Any, listed: str
) -> None:
    # The JSON lies on the target: an edited one must not move files out of the root.
    root, backups = str(sshd.remote_root), str(sshd.workdir / "backups")
    await seed(remote, root)
    info = await Backups(remote).take(root, ["configuration.yaml"], backups, "b1")
    before = await remote.manifest(root)
    crafted = replace(info, files=(listed,))
    with pytest.raises(BackupCorrupt, match="not a path inside") as refused:
        await Backups(remote).restore(root, crafted, touched=["configuration.yaml"])
    assert "\n" not in str(refused.value)
    assert await remote.manifest(root) == before
    assert not (sshd.workdir / "configuration.yaml").exists()
    for other in (replace(info, absent=(listed,)), replace(info, absent_dirs=(listed,))):
        with pytest.raises(BackupCorrupt, match="not a path inside"):
            await Backups(remote).restore(root, other)
    assert await remote.manifest(root) == before
