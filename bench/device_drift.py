"""Drift and apply over the whole fleet, beside aioshelly alone (rows of ``bench.devices``).

- full drift scan: the operator's ``Apply`` of every device while Git and the devices agree,
  so every device's whole config is read (``Shelly.GetConfig``) and compared field by field
  (the group's policy is ``off``: no comparison runs in the background to share the work);
  baseline: aioshelly's ``Shelly.GetConfig`` of every device, as many at once;
- apply one field: a push changes ``switch.0.auto_off_delay`` of 1,000 devices, then ``Apply``
  of those (a backup, ``Switch.SetConfig``, a read-back each); baseline: the same
  ``Switch.SetConfig`` calls made with aioshelly.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aioshelly.rpc_device import RpcDevice

from hearth.demo.shelly.models import PLUS_1PM

#: Devices compared or applied at once, by Hearth (HEARTH_APPLY_CONCURRENCY) and the baseline.
APPLY_CONCURRENCY = 16
APPLIED = 1000


async def bounded(items: list[Any], work: Callable[[Any], Awaitable[Any]]) -> float:
    """Seconds to run ``work`` on every item, ``APPLY_CONCURRENCY`` at once."""
    limit = asyncio.Semaphore(APPLY_CONCURRENCY)

    async def one(item: Any) -> None:
        async with limit:
            await work(item)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in items))
    return time.perf_counter() - started


async def aioshelly_baselines(opened: list[RpcDevice]) -> tuple[float, float]:
    """``Shelly.GetConfig`` of every device; ``Switch.SetConfig`` of one field on 1,000."""
    read = await bounded(opened, lambda d: d.call_rpc("Shelly.GetConfig"))
    params = {"id": 0, "config": {"auto_off_delay": 45.0}}
    write = await bounded(opened[:APPLIED], lambda d: d.call_rpc("Switch.SetConfig", params))
    await bounded(  # back as it was, so Hearth finds the devices as the simulator made them
        opened[:APPLIED],
        lambda d: d.call_rpc("Switch.SetConfig", {"id": 0, "config": {"auto_off_delay": 60.0}}),
    )
    return read, write


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _commit(repo: Path, devices: list[Any], delay: float, changed: int) -> None:
    for i, device in enumerate(devices):
        wanted = delay if i < changed else 60.0
        (repo / "devices" / f"dev{i:05}.toml").write_text(
            f'mac = "{device["mac"]}"\nmodel = "{PLUS_1PM.model}"\ngroups = ["all"]\n\n'
            f"[switch.0]\nauto_off_delay = {wanted}\n"
        )
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "c")


def desired_repo(workdir: Path, devices: list[Any]) -> Path:
    """A Git repository saying what every device already has (the policy: ``off``)."""
    repo = workdir / "desired"
    (repo / "devices").mkdir(parents=True)
    (repo / "groups").mkdir()
    (repo / "groups" / "all.toml").write_text('policy = "off"\n')
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    _commit(repo, devices, 60.0, 0)
    return repo


async def _request(nc: Any, subject: str, body: dict[str, Any], timeout: float) -> Any:
    reply = await nc.request(f"hearth.cmd.device.{subject}", json.dumps(body).encode(), timeout)
    return json.loads(reply.data)


async def hearth_scan_and_apply(
    nc: Any, devices: list[Any], specs: list[dict[str, Any]], workdir: Path
) -> tuple[float, float]:
    """Seconds of a full drift scan of the fleet, and of applying one field to 1,000."""
    repo = desired_repo(workdir, devices)
    slow = max(120.0, len(devices) / 10)
    declared = await _request(
        nc,
        "ApplyDevices",
        {
            "devices": specs,
            "device_config": {"repo": "bench/desired", "branch": "main"},
            "repository": {"name": "bench/desired", "url": f"file://{repo}"},
            "actor": "bench",
        },
        slow,
    )
    assert declared["device_config"]["errors"] == [], declared
    ids = [d["device_id"] for d in devices]
    started = time.perf_counter()
    scan = await _request(nc, "Apply", {"device_ids": ids, "actor": "bench"}, slow)
    scanned = time.perf_counter() - started
    results = [d["result"] for d in scan["devices"]]
    assert results == ["in_sync"] * len(ids), {r: results.count(r) for r in set(results)}

    changed = min(APPLIED, len(devices))
    _commit(repo, devices, 30.0, changed)
    synced = await _request(nc, "SyncConfig", {"actor": "bench"}, slow)
    assert synced["errors"] == [], synced
    started = time.perf_counter()
    applied = await _request(nc, "Apply", {"device_ids": ids[:changed], "actor": "bench"}, slow)
    elapsed = time.perf_counter() - started
    results = [d["result"] for d in applied["devices"]]
    assert results == ["applied"] * changed, {r: results.count(r) for r in set(results)}
    return scanned, elapsed
