"""Pushes become deployments, judged by a simulated Home Assistant; the host in memory."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from hearth_deployer.domain.ids import deployment_uuid
from tests.integration.deployer.harness import World, tree_digest
from tests.integration.deployer.test_deployments import AUTOMATIONS, BASE, deploy_base
from tests.support.memhost import MemoryBox

pytestmark = pytest.mark.integration


async def test_a_push_is_fetched_validated_backed_up_deployed_and_checked(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    box.write(".storage/core.config", "{}")  # HA's own state
    commit = await deploy_base(world, box, ha_sim)

    (done,) = await world.wait_terminal("ha")
    deployment_id = done.data.deployment_id  # type: ignore[attr-defined]
    assert await world.types(deployment_id) == [
        "DeployRequested",
        "DeploymentStarted",
        "ConfigFetched",
        "ConfigValidated",
        "DeploymentPlanned",
        "BackupTaken",
        "FilesDeployed",
        "HostCheckPassed",
        "ServiceRestarted",
        "HealthCheckPassed",
        "DeploymentSucceeded",
    ]
    assert done.data.commit == commit  # type: ignore[attr-defined]
    for path, content in BASE.items():
        assert (box.remote_root / path).read_text() == content
    assert (box.remote_root / ".storage" / "core.config").read_text() == "{}"
    assert ha_sim.restarts == 1
    events = await world.deployment_events(deployment_id)
    assert all(e.correlation_id == events[0].correlation_id for e in events)
    assert events[0].actor == "github:alice"
    assert any("fetched" in line for line in await world.logs(deployment_id))


async def test_a_change_to_automations_only_reloads_them(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    await deploy_base(world, box, ha_sim)
    await world.push({"automations.yaml": AUTOMATIONS.replace("dusk", "sunset")})
    _, second = await world.wait_terminal("ha", 2)
    assert second.type == "DeploymentSucceeded"
    deployment_id = second.data.deployment_id  # type: ignore[attr-defined]
    events = {e.type: e.data for e in await world.deployment_events(deployment_id)}
    planned = events["DeploymentPlanned"]
    assert [f.path for f in planned.changed] == ["automations.yaml"]  # type: ignore[attr-defined]
    assert "+- alias: Lights at sunset" in planned.diff  # type: ignore[attr-defined]
    restarted = events["ServiceRestarted"]
    assert restarted.method == "reload" and restarted.domains == ("automation",)  # type: ignore[attr-defined]
    assert ha_sim.restarts == 1 and ha_sim.reloads == ["automation"]


async def test_invalid_yaml_touches_nothing_on_the_target(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    await deploy_base(world, box, ha_sim)
    before = tree_digest(box.remote_root)
    await world.push({"automations.yaml": "- alias: [unclosed\n", "new.yaml": "a: 1\n"})
    _, failed = await world.wait_terminal("ha", 2)
    assert failed.type == "DeploymentFailed"
    assert failed.data.step == "validate"  # type: ignore[attr-defined]
    deployment_id = failed.data.deployment_id  # type: ignore[attr-defined]
    types = await world.types(deployment_id)
    assert "ValidationFailed" in types and "BackupTaken" not in types
    logs = await world.logs(deployment_id)
    assert any(
        "automations.yaml:2:1: " in line and "expected ',' or ']'" in line for line in logs
    ), logs
    assert tree_digest(box.remote_root) == before


async def test_one_changed_file_in_a_large_tree_is_all_that_travels(
    world: World, box: MemoryBox, ha_sim: Any
) -> None:
    box.write("notes.txt", "mine, not Hearth's\n")
    large = {f"www/page-{n:03}.json": f'{{"page": {n}}}\n' for n in range(300)}
    await deploy_base(world, box, ha_sim)
    await world.push({**large, "old.yaml": "a: 1\n"})
    await world.wait_terminal("ha", 2)
    await world.push({"www/page-007.json": '{"page": "seven"}\n', "old.yaml": None})
    *_, done = await world.wait_terminal("ha", 3)
    assert done.type == "DeploymentSucceeded"
    events = {e.type: e.data for e in await world.deployment_events(done.data.deployment_id)}  # type: ignore[attr-defined]
    planned, deployed = events["DeploymentPlanned"], events["FilesDeployed"]
    assert [f.path for f in planned.changed] == ["www/page-007.json"]  # type: ignore[attr-defined]
    assert [f.path for f in planned.removed] == ["old.yaml"]  # type: ignore[attr-defined]
    assert (deployed.written, deployed.removed) == (1, 1)  # type: ignore[attr-defined]
    assert not (box.remote_root / "old.yaml").exists()  # Hearth deployed it: it goes
    assert (box.remote_root / "notes.txt").exists()  # never Hearth's: it stays


async def test_a_run_reads_what_its_kick_read_only_once_and_writes_its_end_once(
    world: World, box: MemoryBox, ha_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kick that starts a run reads the target's declaration and begins the
    deployment, from the line the save that queued it left; the run used to read all
    three again, and the kick after it the line once more (five of a deployment's ten
    reads in a fan-out), and the kick itself read the line the queueing save had just
    left (one more)."""
    from hearth_deployer.adapters.store import DeployerStore

    await deploy_base(world, box, ha_sim)
    (deployer,) = world.deployers
    dispatcher = deployer.dispatcher
    assert dispatcher is not None
    reads: Counter[str] = Counter()
    real = DeployerStore.read

    async def read(store: DeployerStore, call: Any, *args: Any) -> Any:
        task = asyncio.current_task()
        if task is None or task.get_name() != "sweep":  # the 15 s sweep reads every line
            reads[call.__name__] += 1
        return await real(store, call, *args)

    monkeypatch.setattr(DeployerStore, "read", read)
    writes: Counter[str] = Counter()
    real_write = DeployerStore.write

    async def write(store: DeployerStore, call: Any, *args: Any, **kwargs: Any) -> Any:
        writes[call.__name__] += 1
        return await real_write(store, call, *args, **kwargs)

    monkeypatch.setattr(DeployerStore, "write", write)
    asked: list[tuple[Any, Any]] = []
    assert deployer.app is not None
    event_store = deployer.app.repository.event_store
    store_get = event_store.get

    def get(*args: Any, **kwargs: Any) -> Any:
        asked.append((kwargs.get("originator_id", args[0] if args else None), kwargs.get("gt")))
        return store_get(*args, **kwargs)

    monkeypatch.setattr(event_store, "get", get)
    await world.push({"automations.yaml": AUTOMATIONS.replace("dusk", "sunset")})
    _, second = await world.wait_terminal("ha", 2)
    assert second.type == "DeploymentSucceeded"
    await dispatcher.idle.wait()
    async with dispatcher._kicking["ha"]:  # the kick after the run has looked
        pass
    assert reads["line"] == 0 and reads["target"] == 1
    # The run's three cancel points ask only for events newer than its own copy.
    assert reads["deployment_if_newer"] == 3 and reads["deployment"] == 0
    # The store is asked for the whole deployment once, whether it exists when it is
    # queued: its writes start from this process's copy, the first one too (begin_next
    # only looked at it and keeps it again), and its announcement coming back from the
    # bus is not queued again (which took the copy and saved nothing). The cancel points
    # ask for what is newer than the run's copy: nothing.
    deployment_id = deployment_uuid(second.data.deployment_id)  # type: ignore[attr-defined]
    mine = [gt for originator, gt in asked if originator == deployment_id]
    assert mine.count(None) == 1
    assert len(mine) == 4 and all(gt is not None and gt > 0 for gt in mine[1:])
    # The passed health check is stored with the success: one write, not two.
    assert writes["succeed_healthy"] == 1 and writes["health_checked"] == 0
    assert writes["succeed"] == 0
