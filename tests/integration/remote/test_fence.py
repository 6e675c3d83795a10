"""Every write to a host passes the fence first: once it fails, nothing changes there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from hearth_deployer.remote import Backups, HostPool, SSHHost, UploadFile
from hearth_deployer.remote.staged import StagedUpload
from tests.integration.deployer.harness import tree_digest
from tests.integration.remote.conftest import target_for

pytestmark = pytest.mark.integration


class Stopped(BaseException):
    pass


class Switch:
    """A fence that holds until ``lost`` is set; counts what it was asked."""

    def __init__(self) -> None:
        self.lost = False
        self.checks = 0
        self.confirms = 0

    def valid(self) -> bool:
        return not self.lost

    def check(self, step: str) -> None:
        self.checks += 1
        if self.lost:
            raise Stopped(step)

    async def confirm(self, step: str) -> None:
        self.confirms += 1
        self.check(step)


def host_files(sshd: Any) -> dict[str, str]:
    """Every file and folder of the sshd's workdir (root, backups), but sshd's own log."""
    return tree_digest(sshd.workdir, ignore=("sshd.log",))


def files(n: int, version: str) -> list[UploadFile]:
    return [UploadFile(f"dir/f{i}.yaml", data=f"v: {version}\n".encode()) for i in range(n)]


@pytest.fixture
def fence() -> Switch:
    return Switch()


@pytest.fixture
def fenced(pool: HostPool, sshd: Any, fence: Switch) -> SSHHost:
    return SSHHost(pool, target_for(sshd), fence)


async def test_one_confirmation_per_upload_and_a_check_per_file(
    fenced: SSHHost, sshd: Any, fence: Switch
) -> None:
    await fenced.upload(str(sshd.remote_root), files(20, "1"))
    assert fence.confirms == 1
    assert fence.checks >= 40  # before each file is written, and before it is renamed


WRITES: dict[str, Callable[[SSHHost, str, str], Awaitable[Any]]] = {
    "upload over SFTP": lambda h, root, _: h.upload(root, files(5, "2"), stream=False),
    "streamed upload": lambda h, root, _: h.upload(root, files(5, "2"), stream=True),
    "remove": lambda h, root, _: h.remove(root, ["dir/f0.yaml"]),
    "remove temporaries": lambda h, root, _: h.remove_temporaries(root),
    "backup": lambda h, root, backups: Backups(h).take(root, None, backups, "b2"),
    "command": lambda h, root, _: h.run("touch ran", cwd=root),
}


@pytest.mark.parametrize("write", sorted(WRITES))
async def test_a_failed_fence_stops_every_write(
    fenced: SSHHost, sshd: Any, fence: Switch, write: str
) -> None:
    root, backups = str(sshd.remote_root), str(sshd.workdir / "backups")
    await fenced.upload(root, files(5, "1"))
    (sshd.remote_root / ".hearth-tmp-left").write_text("")  # for remove_temporaries
    before = host_files(sshd)
    fence.lost = True
    with pytest.raises(Stopped):
        await WRITES[write](fenced, root, backups)
    assert host_files(sshd) == before


async def test_a_failed_fence_stops_a_restore(fenced: SSHHost, sshd: Any, fence: Switch) -> None:
    root, backups = str(sshd.remote_root), str(sshd.workdir / "backups")
    await fenced.upload(root, files(5, "1"))
    backup = await Backups(fenced).take(root, None, backups, "b1")
    await fenced.upload(root, files(5, "2"))
    before = host_files(sshd)
    fence.lost = True
    with pytest.raises(Stopped):
        await Backups(fenced).restore(root, backup, touched=[f"dir/f{i}.yaml" for i in range(5)])
    assert host_files(sshd) == before


async def test_a_staged_upload_is_not_placed_nor_cleaned_up_without_the_fence(
    fenced: SSHHost, sshd: Any, fence: Switch, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hearth_deployer.remote import streamed

    monkeypatch.setattr(streamed, "STREAM_MIN_BYTES", 1)
    root = str(sshd.remote_root)
    await fenced.upload(root, files(5, "1"), stream=False)
    staged = await fenced.stage_upload(root, files(5, "2"))
    assert isinstance(staged, StagedUpload)
    await staged._sending  # staged, not yet in place
    before = host_files(sshd)
    fence.lost = True
    with pytest.raises(Stopped):
        await staged.finish()
    await staged.abandon()
    assert host_files(sshd) == before  # the next holder removes the staging folder
    assert (sshd.remote_root / "dir/f0.yaml").read_text() == "v: 1\n"
