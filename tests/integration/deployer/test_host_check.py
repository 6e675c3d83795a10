"""The plan hashes on the host only what changed since Hearth's last deployment there, and
a full check finds what was changed behind Hearth's back (drift)."""

from __future__ import annotations

import asyncio
import os
import shlex
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from hearth_deployer.bootstrap import Deployer
from hearth_deployer.entrypoints import driftcheck
from hearth_deployer.remote import quickcheck
from hearth_events.catalogue import DeployRequested
from hearth_events.ids import uuid7
from tests.integration.deployer.harness import World, ha_target
from tests.integration.deployer.test_deployments import BASE

pytestmark = pytest.mark.integration

PAGES = {f"www/page-{n:03}.json": f'{{"page": {n}}}\n' for n in range(60)}


@dataclass
class HashSpy:
    """What the deployer asked the host to hash: a list of paths, or everything."""

    paths: list[str] = field(default_factory=list)
    everything: int = 0
    #: The files listed again after an upload, by name (not the whole tree).
    relisted: list[str] = field(default_factory=list)

    def watch(self, deployer: Deployer) -> None:
        pool = deployer.pool
        run_raw = pool.run_raw

        async def spying(target: Any, command: str, **options: Any) -> Any:
            if "find" in command and "sha256sum" in command:  # the whole tree
                self.everything += 1
            elif "xargs -0r sha256sum" in command:  # the paths on stdin
                stdin = options.get("stdin") or b""
                self.paths += [p.decode().removeprefix("./") for p in stdin.split(b"\0") if p]
            elif "-maxdepth 0" in command:  # named files' stats
                named = shlex.split(command.split("; ", 1)[1])[1:]
                self.relisted += [p.removeprefix("./") for p in named if p.startswith("./")]
            return await run_raw(target, command, **options)

        pool.run_raw = spying  # type: ignore[method-assign]


async def deploy_pages(world: World, sshd: Any, ha_sim: Any, **target: Any) -> Deployer:
    deployer = await world.start()
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url, **target))
    assert reply["ok"], reply
    await world.push({**BASE, **PAGES})
    (done,) = await world.wait_terminal("ha")
    assert done.type == "DeploymentSucceeded", await world.logs(done.data.deployment_id)  # type: ignore[attr-defined]
    return deployer


def count_parsed_listings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The records of every listing of the whole tree the deployer parsed (a listing of a
    few named files after an upload is left out)."""
    parsed: list[int] = []
    real = quickcheck.parse_stats

    def counting(output: bytes, ignore: Any) -> Any:
        if output.count(b"\0") > 10:
            parsed.append(output.count(b"\0"))
        return real(output, ignore)

    monkeypatch.setattr(quickcheck, "parse_stats", counting)
    return parsed


async def test_a_one_file_change_hashes_one_file_on_the_host_and_reads_one_blob(
    world: World, sshd: Any, ha_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployer = await deploy_pages(world, sshd, ha_sim)
    spy = HashSpy()
    spy.watch(deployer)
    parsed = count_parsed_listings(monkeypatch)
    blobs = deployer._mirrors.reads.blobs
    exports = deployer._mirrors.reads.exports

    await world.push({"www/page-007.json": '{"page": "seven"}\n'})
    *_, done = await world.wait_terminal("ha", 2)

    assert done.type == "DeploymentSucceeded"
    assert spy.everything == 0
    assert spy.paths == []  # the host's copy was what Hearth left: nothing to hash
    # Recorded as the upload stamped it, not listed again (the next push shows the stamp
    # is what the host's listing says: page-007 is not hashed there).
    assert spy.relisted == []
    assert deployer._mirrors.reads.blobs - blobs == 1
    assert deployer._mirrors.reads.exports == exports
    assert (sshd.remote_root / "www/page-007.json").read_text() == '{"page": "seven"}\n'
    # The host listed what the last deployment left: the listing was only fingerprinted.
    assert parsed == []

    # A file changed on the host (new mtime) is re-hashed, reported as drift, overwritten.
    (sshd.remote_root / "www/page-003.json").write_text("edited on the host\n")
    await world.push({"www/page-008.json": '{"page": "eight"}\n'})
    *_, done = await world.wait_terminal("ha", 3)
    assert done.type == "DeploymentSucceeded"
    assert spy.paths == ["www/page-003.json"]
    events = {e.type: e.data for e in await world.deployment_events(done.data.deployment_id)}  # type: ignore[attr-defined]
    planned = events["DeploymentPlanned"]
    assert planned.drifted == ("www/page-003.json",)  # type: ignore[attr-defined]
    assert {f.path for f in planned.changed} == {"www/page-003.json", "www/page-008.json"}  # type: ignore[attr-defined]
    assert (sshd.remote_root / "www/page-003.json").read_text() == '{"page": 3}\n'
    assert len(parsed) == 2  # listed, and listed again after hashing the changed file

    # A mode changed on the host keeps size and mtime; the listing shows it all the same.
    chmodded = sshd.remote_root / "www/page-005.json"
    chmodded.chmod(0o600)
    await world.push({"www/page-009.json": '{"page": "nine"}\n'})
    *_, done = await world.wait_terminal("ha", 4)
    assert done.type == "DeploymentSucceeded"
    events = {e.type: e.data for e in await world.deployment_events(done.data.deployment_id)}  # type: ignore[attr-defined]
    planned = events["DeploymentPlanned"]
    assert {f.path for f in planned.changed} == {"www/page-005.json", "www/page-009.json"}  # type: ignore[attr-defined]
    assert chmodded.stat().st_mode & 0o777 == 0o644
    assert len(parsed) == 3  # nothing to hash: listed once


async def test_a_full_check_finds_a_change_that_kept_size_and_mtime(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    deployer = await deploy_pages(world, sshd, ha_sim)
    sneaky = sshd.remote_root / "www/page-042.json"
    stat = sneaky.stat()
    sneaky.write_text('{"page": 24}\n')  # same size
    os.utime(sneaky, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime
    spy = HashSpy()
    spy.watch(deployer)

    quick_id = str(uuid7())
    await world.publish(
        DeployRequested(deployment_id=quick_id, target="ha", repo="home/config", trigger="manual")
    )
    *_, quick = await world.wait_terminal("ha", 2)
    assert quick.type == "DeploymentSucceeded"
    assert spy.paths == [] and spy.everything == 0
    assert "already up to date" in await world.logs(quick_id)  # the quick check trusts it

    full_id = str(uuid7())
    await world.publish(
        DeployRequested(
            deployment_id=full_id,
            target="ha",
            repo="home/config",
            trigger="manual",
            full_check=True,
        )
    )
    *_, full = await world.wait_terminal("ha", 3)
    assert full.type == "DeploymentSucceeded", await world.logs(full_id)
    assert "www/page-042.json" in spy.paths and len(spy.paths) == len(PAGES) + len(BASE)
    events = {e.type: e.data for e in await world.deployment_events(full_id)}
    assert events["DeploymentPlanned"].drifted == ("www/page-042.json",)  # type: ignore[attr-defined]
    logs = await world.logs(full_id)
    assert any(line.startswith("drift: 1 file(s)") for line in logs), logs
    assert sneaky.read_text() == '{"page": 42}\n'


async def test_the_full_check_runs_when_the_last_one_is_older_than_the_interval(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    deployer = await deploy_pages(world, sshd, ha_sim, full_check_interval_h=0)
    spy = HashSpy()
    spy.watch(deployer)

    await world.push({"www/page-007.json": '{"page": "seven"}\n'})
    *_, done = await world.wait_terminal("ha", 2)

    assert done.type == "DeploymentSucceeded"
    assert len(spy.paths) == len(PAGES) + len(BASE)  # every file, every time
    logs = await world.logs(done.data.deployment_id)  # type: ignore[attr-defined]
    assert any(line.startswith("full check (the last one is over 0 h old)") for line in logs)


async def test_declaring_a_target_prepares_its_first_deployment(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    world.remote.commit({**BASE, **PAGES})
    world.remote.push()
    deployer = await world.start()
    reply = await world.apply_targets(ha_target(sshd, ha_sim.url))
    assert reply["ok"], reply
    await asyncio.gather(*deployer.preparing)
    assert deployer._mirrors.reads.exports == 1  # mirrored and exported in the background

    deployment_id = str(uuid7())
    await world.publish(
        DeployRequested(
            deployment_id=deployment_id, target="ha", repo="home/config", trigger="manual"
        )
    )
    (done,) = await world.wait_terminal("ha")

    assert done.type == "DeploymentSucceeded", await world.logs(deployment_id)
    assert deployer._mirrors.reads.exports == 1  # the deployment found the tree ready
    assert (sshd.remote_root / "www/page-042.json").read_text() == '{"page": 42}\n'


async def test_the_timer_finds_drift_on_a_host_nobody_deploys_to(
    world: World, sshd: Any, ha_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driftcheck, "EVERY_S", 0.2)
    await deploy_pages(world, sshd, ha_sim, full_check_interval_h=1 / 3600)  # 1 s
    sneaky = sshd.remote_root / "www/page-042.json"
    stat = sneaky.stat()
    sneaky.write_text('{"page": 24}\n')  # same size
    os.utime(sneaky, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime

    *_, planned = await world.wait_for("ha", {"DeploymentPlanned"}, count=2, timeout=30)

    deployment_id = planned.data.deployment_id  # type: ignore[attr-defined]
    (requested,) = [
        e for e in await world.deployment_events(deployment_id) if e.type == "DeployRequested"
    ]
    assert requested.data.trigger == "schedule"  # type: ignore[attr-defined]
    assert requested.data.dry_run and requested.data.full_check  # type: ignore[attr-defined]
    assert planned.data.drifted == ("www/page-042.json",)  # type: ignore[attr-defined]
    *_, done = await world.wait_terminal("ha", 2)
    assert done.type == "DeploymentSucceeded"
    assert sneaky.read_text() == '{"page": 24}\n'  # reported, not touched: a dry run


async def test_deployer_instances_share_their_records_of_a_host(
    world: World, sshd: Any, ha_sim: Any, tmp_path: Any
) -> None:
    """Two deployer instances, each with a data directory (and host records) of its own,
    take turns at one target. Each starts from the record the last deployment there left,
    whichever instance ran it: no full check for the newcomer, and what the other one
    deployed is not drift, also after a deployment that failed before touching the host.
    A change behind Hearth's back is drift. Without a shared record of the last
    deployment, drift is not judged rather than judged wrong."""
    first = await deploy_pages(world, sshd, ha_sim)  # its records in the world's data dir
    broken = {"configuration.yaml": "homeassistant: [unclosed\n"}

    async def deploy(files: dict[str, str], count: int) -> tuple[Any, dict[str, Any], str]:
        await world.push(files)
        *_, done = await world.wait_terminal("ha", count)
        found: Any = done.data
        events = {e.type: e.data for e in await world.deployment_events(found.deployment_id)}
        return done, events, "\n".join(await world.logs(found.deployment_id))

    await world.stop(first)
    second = await world.start(instance="deployer-b", data_dir=tmp_path / "b")
    done, events, logged = await deploy({"www/page-001.json": '{"page": "one"}\n'}, 2)
    assert done.type == "DeploymentSucceeded"
    assert "quick check" in logged and "full check" not in logged  # the first's record
    await world.stop(second)

    await world.start(instance="deployer-a")  # its own record is behind now
    done, _, _ = await deploy(broken, 3)  # fails before touching the host
    assert done.type == "DeploymentFailed"
    done, events, logged = await deploy({**BASE, "www/page-002.json": '{"page": "two"}\n'}, 4)
    assert done.type == "DeploymentSucceeded", logged
    assert events["DeploymentPlanned"].drifted == ()
    assert "drift not judged" not in logged

    done, _, _ = await deploy(broken, 5)
    assert done.type == "DeploymentFailed"
    (sshd.remote_root / "www/page-003.json").write_text("edited on the host\n")
    done, events, logged = await deploy({**BASE, "www/page-004.json": '{"page": "four"}\n'}, 6)
    assert done.type == "DeploymentSucceeded", logged
    assert events["DeploymentPlanned"].drifted == ("www/page-003.json",)

    # The second instance's own record is four deployments behind, and nothing shared
    # names the last one: the changes the first made are not called drift, and a failure
    # does not make that record look up to date.
    await world.stop(world.deployers[0])
    async with await psycopg.AsyncConnection.connect(world.database_url) as conn:
        await conn.execute("DELETE FROM deployer.hearth_host_records")
        await conn.commit()
    await world.start(instance="deployer-b", data_dir=tmp_path / "b")
    done, _, _ = await deploy(broken, 7)
    assert done.type == "DeploymentFailed"
    done, events, logged = await deploy({**BASE, "www/page-005.json": '{"page": "five"}\n'}, 8)
    assert done.type == "DeploymentSucceeded", logged
    assert events["DeploymentPlanned"].drifted == ()
    assert "drift not judged" in logged and "no record of the host" in logged


async def test_a_rolled_back_deployment_leaves_the_record_drift_is_judged_by(
    world: World, sshd: Any, ha_sim: Any
) -> None:
    """Home Assistant refuses the new files: they are restored from the backup, as the
    last success left them, so a change behind Hearth's back afterwards is drift."""
    await deploy_pages(world, sshd, ha_sim)
    await world.push({"configuration.yaml": "frobnicator:\n" + BASE["configuration.yaml"]})
    _, failed = await world.wait_terminal("ha", 2)
    assert failed.type == "DeploymentFailed" and failed.data.rolled_back  # type: ignore[attr-defined]
    (sshd.remote_root / "www/page-003.json").write_text("edited on the host\n")
    await world.push({**BASE, "www/page-004.json": '{"page": "four"}\n'})
    *_, done = await world.wait_terminal("ha", 3)
    found: Any = done.data
    assert done.type == "DeploymentSucceeded", await world.logs(found.deployment_id)
    events = {e.type: e.data for e in await world.deployment_events(found.deployment_id)}
    assert events["DeploymentPlanned"].drifted == ("www/page-003.json",)  # type: ignore[attr-defined]
