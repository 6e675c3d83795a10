"""A target declared before its secrets waits for them instead of failing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from tests.integration.deployer.harness import FAST, World, files_target
from tests.integration.deployer.read_side import ReadSide
from tests.support.memhost import MemoryBox
from tests.support.services import ServiceProcess, scoped_secrets

pytestmark = pytest.mark.integration


async def test_a_push_waits_for_the_missing_key_then_deploys_exactly_once(
    world: World, box: MemoryBox, start_service: Callable[..., ServiceProcess]
) -> None:
    read = await ReadSide.start(world, start_service)
    await world.start()
    target = files_target(box, "box", key_secret="box-ssh-key")  # not stored yet
    assert (await world.apply_targets(target))["ok"]
    await world.push({"a.txt": "hello\n"})

    (held,) = await world.wait_for("box", {"DeploymentWaiting"})
    assert held.data.waiting_for == ("box-ssh-key",)  # type: ignore[attr-defined]
    assert "waiting for secret box-ssh-key" in held.data.reason  # type: ignore[attr-defined]
    deployment_id = held.data.deployment_id  # type: ignore[attr-defined]
    (shown,) = (await read.until("/api/v1/targets", lambda t: t["items"][0]["waiting_for"] != []))[
        "items"
    ]
    assert shown["waiting_for"] == ["box-ssh-key"]
    waiting = await read.get(f"/api/v1/deployments/{deployment_id}")
    assert waiting["status"] == "waiting"
    assert "box-ssh-key" in waiting["reason"]
    assert not (box.remote_root / "a.txt").exists()

    await world.secret("box-ssh-key", box.client_key_text)
    (done,) = await world.wait_terminal("box")
    assert done.type == "DeploymentSucceeded", await world.logs(deployment_id)
    assert done.data.deployment_id == deployment_id  # type: ignore[attr-defined]
    assert (box.remote_root / "a.txt").read_text() == "hello\n"
    types = [e.type for e in await world.events("box") if e.type != "DeploymentLogged"]
    # One deployment, held once (not at every look), then run to the end.
    assert types.count("DeployRequested") == 1 and types.count("DeploymentStarted") == 1
    assert types.count("DeploymentWaiting") == 1
    assert types.index("DeploymentWaiting") < types.index("DeploymentStarted")
    (after,) = (await read.until("/api/v1/targets", lambda t: t["items"][0]["status"] == "green"))[
        "items"
    ]
    assert after["waiting_for"] == []


async def test_a_key_removed_while_the_deployer_runs_holds_the_next_push(
    world: World, box: MemoryBox
) -> None:
    """The deployer holds its secrets in memory, kept current from the bucket: a key
    removed after a deployment used it is missing for the next push at once (it waits),
    and the key stored again lets that push deploy."""
    await world.start()
    await world.secret("box-ssh-key", box.client_key_text)
    assert (await world.apply_targets(files_target(box, "box", key_secret="box-ssh-key")))["ok"]
    await world.push({"a.txt": "one\n"})
    (first,) = await world.wait_terminal("box")
    assert first.type == "DeploymentSucceeded"

    await scoped_secrets(world.js, "deployer").delete("box-ssh-key")
    await world.push({"a.txt": "two\n"})
    (held,) = await world.wait_for("box", {"DeploymentWaiting"})
    assert held.data.waiting_for == ("box-ssh-key",)  # type: ignore[attr-defined]
    assert (box.remote_root / "a.txt").read_text() == "one\n"

    await world.secret("box-ssh-key", box.client_key_text)
    _, second = await world.wait_terminal("box", count=2)
    assert second.type == "DeploymentSucceeded"
    assert (box.remote_root / "a.txt").read_text() == "two\n"


async def test_a_held_push_begins_when_its_key_is_stored_not_at_the_next_look(
    world: World, box: MemoryBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The secrets watch wakes the held deployments: with the periodic look and the
    sweep an hour apart, storing the missing key still starts the push at once."""
    monkeypatch.setattr("hearth_deployer.adapters.dispatcher.SWEEP_EVERY_S", 3600.0)
    await world.start(timing=replace(FAST, secret_recheck_s=3600))
    assert (await world.apply_targets(files_target(box, "box", key_secret="box-ssh-key")))["ok"]
    await world.push({"a.txt": "hello\n"})
    await world.wait_for("box", {"DeploymentWaiting"})

    await world.secret("box-ssh-key", box.client_key_text)
    (done,) = await world.wait_terminal("box", timeout=30)
    assert done.type == "DeploymentSucceeded"
    assert (box.remote_root / "a.txt").read_text() == "hello\n"
