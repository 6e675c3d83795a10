"""The steps of a run before its upload (started, fetched, validated, planned, backed up)
are held on the run's copy and stored with its next write (the host in memory): one write
for all of them instead of one each, before any file of the target changes; each event
keeps the time its step happened; none waits longer than ``log_held_s``; a request to
cancel that comes meanwhile still decides."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from hearth_deployer.bootstrap import Deployer
from tests.integration.deployer.harness import FAST, World, files_target
from tests.integration.deployer.test_queue_and_recovery import Gate
from tests.support.memhost import MemoryBox

pytestmark = pytest.mark.integration

BEFORE_UPLOAD = ["DeploymentStarted", "ConfigFetched", "ConfigValidated", "DeploymentPlanned"]
HELD = [*BEFORE_UPLOAD, "BackupTaken"]


def spy_writes(deployer: Deployer) -> list[tuple[str, datetime]]:
    """Each write the deployer's store makes: the command's name (``after_held+<name>``
    for one that stores held steps first) and when it was asked for."""
    assert deployer.dispatcher is not None
    store = deployer.dispatcher.ctx.store
    original = store.write
    made: list[tuple[str, datetime]] = []

    async def write(call: Any, *args: Any, **kwargs: Any) -> Any:
        name = call.__name__
        if name == "after_held":
            name = f"after_held+{args[1].__name__}"
        made.append((name, datetime.now(UTC)))
        return await original(call, *args, **kwargs)

    store.write = write  # type: ignore[method-assign]
    return made


async def _push(world: World, box: MemoryBox, content: str) -> None:
    assert (await world.apply_targets(files_target(box, "web")))["ok"]
    await world.push({"site.conf": content})


async def test_the_steps_before_the_upload_are_stored_in_one_write_at_their_own_times(
    world: World, box: MemoryBox
) -> None:
    deployer = await world.start(timing=dataclasses.replace(FAST, log_held_s=600))
    writes = spy_writes(deployer)
    await _push(world, box, "listen 80\n")
    (done,) = await world.wait_terminal("web")
    assert done.type == "DeploymentSucceeded", done

    names = [name for name, _ in writes]
    assert not {"start", "fetched", "validated", "planned", "backed_up"} & set(names), names
    assert names.count("after_held+begin_upload") == 1, names
    events = await world.deployment_events(done.data.deployment_id)  # type: ignore[attr-defined]
    types = [e.type for e in events]
    assert [t for t in types if t in HELD] == HELD  # each once, in the order they happened
    at = {e.type: e.occurred_at for e in events}
    # Each event has the time its step happened, not the time of the write that stored it.
    (stored_at,) = [when for name, when in writes if name == "after_held+begin_upload"]
    assert [at[t] for t in HELD] == sorted(at[t] for t in HELD)
    assert at["DeploymentStarted"] < at["BackupTaken"] <= stored_at < at["FilesDeployed"]
    assert (box.remote_root / "site.conf").read_text() == "listen 80\n"


async def test_a_held_step_waits_no_longer_than_log_held_s(world: World, box: MemoryBox) -> None:
    gate = Gate("fetched")  # the run stops right after its fetch
    await world.start(checkpoint=gate, timing=dataclasses.replace(FAST, log_held_s=0.05))
    await _push(world, box, "listen 81\n")
    await asyncio.wait_for(gate.reached.wait(), 20)

    # While the run waits, what it held is stored on its own.
    found = await world.wait_for("web", {"DeploymentStarted", "ConfigFetched"}, 2, timeout=10)
    assert [e.type for e in found] == ["DeploymentStarted", "ConfigFetched"]
    gate.opened.set()
    (done,) = await world.wait_terminal("web")
    assert done.type == "DeploymentSucceeded", done
    types = await world.types(done.data.deployment_id)  # type: ignore[attr-defined]
    assert [t for t in types if t in HELD] == HELD  # stored once each, not again


async def test_a_cancel_requested_while_steps_are_held_still_decides(
    world: World, box: MemoryBox
) -> None:
    gate = Gate("cancel", 2)  # after the backup, before the upload: every step held
    deployer = await world.start(checkpoint=gate, timing=dataclasses.replace(FAST, log_held_s=600))
    await _push(world, box, "listen 82\n")
    await asyncio.wait_for(gate.reached.wait(), 20)
    await world.wait_for("web", {"DeployRequested"})  # relayed (it is not held)
    assert not set(HELD) & {e.type for e in await world.events("web")}  # all held

    deployment_id = await world.cancel_running(deployer)
    gate.opened.set()

    (done,) = await world.wait_terminal("web")
    assert done.type == "DeploymentCancelled", done
    assert not done.data.rolled_back  # type: ignore[attr-defined]
    types = await world.types(deployment_id)
    assert types == ["DeployRequested", "DeploymentCancelRequested", *HELD, "DeploymentCancelled"]
    assert not (box.remote_root / "site.conf").exists()  # nothing of the target changed
