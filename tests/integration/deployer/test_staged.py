"""A big upload streams into a staging directory while the backup is taken: nothing is
placed before the backup is recorded, and a run stopped before its upload leaves nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hearth_deployer.remote import streamed
from tests.integration.deployer.harness import World, tree_digest
from tests.integration.deployer.test_deployments import deploy_base
from tests.integration.deployer.test_queue_and_recovery import hold_at

pytestmark = pytest.mark.integration

NEW = {f"www/image-{n}.jpg": f"image {n}\n" * 2000 for n in range(20)}


def staging_dirs(root: Any) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".hearth-"))


async def test_a_staged_upload_places_nothing_before_the_backup_and_a_cancel_removes_it(
    world: World, sshd: Any, ha_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streamed, "STREAM_MIN_BYTES", 1)  # every upload is staged
    sent: list[str] = []
    original = streamed.send_to_staging

    async def spy(*args: Any, **options: Any) -> int:
        sent.append(args[2])
        return await original(*args, **options)

    monkeypatch.setattr(streamed, "send_to_staging", spy)
    await deploy_base(world, sshd, ha_sim)
    before = tree_digest(sshd.remote_root)
    (deployer,) = world.deployers
    gate = hold_at(deployer, "cancel", 2)  # after the backup, before the upload
    sent.clear()
    await world.push(NEW)
    await asyncio.wait_for(gate.reached.wait(), 30)

    # The backup is taken and the stream was started before it: nothing is placed yet.
    # (The backup's event may still be held: it is stored, at the latest, with the
    # upload's beginning or the cancellation; see the end.)
    types = [e.type for e in await world.events("ha")]
    assert types.count("FilesDeployed") == 1
    assert len(sent) == 1
    assert tree_digest(sshd.remote_root, ignore=(".hearth-",)) == before

    await world.cancel_running(deployer)
    gate.opened.set()
    _, done = await world.wait_terminal("ha", 2)
    assert done.type == "DeploymentCancelled", done
    assert not done.data.rolled_back  # type: ignore[attr-defined]
    types = [e.type for e in await world.events("ha")]
    assert types.count("BackupTaken") == 2 and types.count("FilesDeployed") == 1
    last_backup = max(n for n, kind in enumerate(types) if kind == "BackupTaken")
    assert last_backup < types.index("DeploymentCancelled")
    assert tree_digest(sshd.remote_root) == before  # the staging directory is gone too
    assert staging_dirs(sshd.remote_root) == []


async def test_a_staged_upload_deploys_the_files(
    world: World, sshd: Any, ha_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streamed, "STREAM_MIN_BYTES", 1)
    await deploy_base(world, sshd, ha_sim)
    await world.push(NEW)
    _, done = await world.wait_terminal("ha", 2)
    assert done.type == "DeploymentSucceeded", done
    for path, text in NEW.items():
        assert (sshd.remote_root / path).read_text() == text
    assert staging_dirs(sshd.remote_root) == []
