"""A deployer cut off from NATS mid-upload loses its lease and writes nothing more, while
another instance takes the target over: real NATS (through a proxy the test cuts), real
PostgreSQL, real sshd."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.bootstrap import Deployer
from hearth_events.jetstream import BUCKETS, LOCKS_BUCKET
from tests.integration.deployer.harness import World, files_target, tree_digest
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.integration

#: The locks bucket's TTL in this test (30 s in production): the lease is valid 2.4 s
#: after its last successful renewal was sent.
TTL_S = 3.0
FIRST = {"app.yaml": "version: 1\n", "conf/a.yaml": "a: 1\n", "old.yaml": "old: 1\n"}
SECOND = {"app.yaml": "version: 2\n", "conf/a.yaml": "a: 2\n", "old.yaml": None}
THIRD = {"app.yaml": "version: 3\n", "conf/b.yaml": "b: 3\n"}
#: The whole tree of the third commit: what the host must hold in the end.
AT_THIRD = {"app.yaml": "version: 3\n", "conf/a.yaml": "a: 2\n", "conf/b.yaml": "b: 3\n"}


class HoldAtUpload:
    """Holds the first run that reaches the upload once armed, and keeps holding through a
    cancellation (like a step busy in a thread): only the fence can stop what follows."""

    def __init__(self) -> None:
        self.armed = False
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = 0

    async def __call__(self, step: str) -> None:
        if not self.armed or step != "upload" or self.reached.is_set():
            return
        self.reached.set()
        while not self.release.is_set():
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled += 1


def files_on(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


async def until_line_done(deployer: Deployer, target: str, commit: str) -> None:
    """Kick ``deployer`` (instead of waiting for its 15 s sweep) until ``commit`` is the
    target's last deployed commit and nothing is queued."""
    dispatcher = deployer.dispatcher
    assert dispatcher is not None
    store = dispatcher.store
    async with asyncio.timeout(90):
        while True:
            line = await store.read(store.app.line, target)
            if line.commit == commit and line.active is None and line.waiting is None:
                return
            await dispatcher.kick(target)
            await asyncio.sleep(0.2)


async def test_a_deployer_cut_off_mid_upload_writes_nothing_after_losing_its_lease(
    world: World, sshd: Any
) -> None:
    await world.js.delete_key_value(LOCKS_BUCKET)
    await world.js.create_key_value(config=replace(BUCKETS[LOCKS_BUCKET], ttl=TTL_S))
    proxy = await TcpProxy(world.nats_url).start()
    ran = sshd.workdir / "post-deploy.log"  # outside the root: one line per post-deploy
    hold = HoldAtUpload()
    first = await world.start(instance="deployer-a", nats_url=proxy.url, checkpoint=hold)
    try:
        target = files_target(sshd, "files", post_deploy=[f"echo ran >> {ran}"])
        reply = await world.apply_targets(target)
        assert reply["ok"], reply
        await world.push(FIRST)
        (done,) = await world.wait_terminal("files")
        assert done.type == "DeploymentSucceeded", done

        hold.armed = True
        await world.push(SECOND)
        async with asyncio.timeout(60):  # backed up, upload begun, not one file written
            await hold.reached.wait()
        proxy.cut()  # the first deployer is cut off from NATS; its lease will lapse

        second = await world.start(instance="deployer-b")  # reaches NATS directly
        third, _ = await world.push(THIRD)  # only the second deployer hears of it
        # It takes the interrupted deployment over once the lease lapsed (restoring the
        # backup), then deploys the third commit.
        await until_line_done(second, "files", third)
        assert files_on(sshd.remote_root) == AT_THIRD
        settled = tree_digest(sshd.remote_root)

        # The first deployer's run was cancelled when its lease ran out; let the held step
        # go on as if it had not noticed, still cut off from NATS but not from the host.
        hold.release.set()
        dispatcher = first.dispatcher
        assert dispatcher is not None
        async with asyncio.timeout(60):  # until its run ended, or it wrote to the host
            while not dispatcher.idle.is_set() and tree_digest(sshd.remote_root) == settled:
                await asyncio.sleep(0.1)

        # Nothing it did after losing the lease reached the host.
        assert tree_digest(sshd.remote_root) == settled
        assert dispatcher.idle.is_set()
        assert files_on(sshd.remote_root) == AT_THIRD
        assert ran.read_text() == "ran\n" * 2  # the first commit's and the third's
        assert hold.cancelled >= 1  # its run was stopped as soon as the lease ran out
        proxy.restore()
        # What ran, in the stream (the first deployer's relay delivers it once reconnected).
        _, interrupted, last = await world.wait_terminal("files", 3, timeout=60)
        assert interrupted.type == "DeploymentFailed", interrupted
        assert interrupted.data.rolled_back  # type: ignore[attr-defined]
        assert "lost its lease" in interrupted.data.reason  # type: ignore[attr-defined]
        assert last.type == "DeploymentSucceeded", last
        assert last.data.commit == third  # type: ignore[attr-defined]
        interrupted_id = interrupted.data.deployment_id  # type: ignore[attr-defined]
        assert "DeploymentSucceeded" not in await world.types(interrupted_id)
    finally:
        hold.release.set()
        proxy.restore()
        await proxy.close()
