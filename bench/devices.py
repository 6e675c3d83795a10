"""A fleet of simulated Gen2 devices under one device manager, beside aioshelly alone.

The simulator runs in its own process (``bench.device_sim``), the device manager in its own
(``python -m hearth_device_manager``), so the CPU and memory shown are the device
manager's. Rows:

- connect: every device from a cold start to live (status in the KV bucket), beside
  aioshelly's ``RpcDevice.initialize`` of every device with the same concurrency;
- steady state: the device manager's CPU (cores) while every device changes its status
  once per period, and its resident memory per device (RSS with the fleet minus RSS
  before adoption, divided by the fleet size);
- drift and apply: a full drift scan of the fleet and one field applied to 1,000 devices,
  each beside the same calls made with aioshelly alone (``bench.device_drift``).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import nats
from aioshelly.common import ConnectionOptions
from aioshelly.rpc_device import RpcDevice

from bench.device_drift import (
    APPLIED,
    APPLY_CONCURRENCY,
    aioshelly_baselines,
    hearth_scan_and_apply,
)
from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import free_port
from hearth_events.jetstream import BUCKETS, DEVICE_STATUS_BUCKET, STREAMS, ensure
from hearth_servicekit.secrets import new_secret_key, scope_key

#: As many devices connect at once as the device manager's default allows.
CONNECT_CONCURRENCY = 16


@dataclass(frozen=True)
class FleetRow:
    benchmark: str
    what: str
    value: str


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_simulator(count: int, period_s: float) -> tuple[subprocess.Popen[str], list[Any]]:
    sim = subprocess.Popen(
        [sys.executable, "-m", "bench.device_sim", str(count), str(period_s)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sim.stdout is not None
    devices: list[Any] = json.loads(sim.stdout.readline())
    return sim, devices


async def aioshelly_connect_all(devices: list[Any]) -> tuple[float, float, float]:
    """Baseline: aioshelly alone opens every device (bounded), reads every config and sets
    one field on 1,000 (``bench.device_drift``), then closes them."""
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    opened: list[RpcDevice] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(port: int) -> None:
            async with limit:
                device = await RpcDevice.create(
                    session, None, ConnectionOptions("127.0.0.1", port=port)
                )
                await device.initialize()
                opened.append(device)

        started = time.perf_counter()
        await asyncio.gather(*(one(d["port"]) for d in devices))
        elapsed = time.perf_counter() - started
        read, write = await aioshelly_baselines(opened)
        await asyncio.gather(*(d.shutdown() for d in opened))
    return elapsed, read, write


def _proc(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and resident bytes of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return cpu, rss


async def _wait_http(port: int, path: str = "/readyz") -> None:
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(60):
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}{path}") as reply:
                        if reply.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)


async def _all_online(kv: Any, count: int) -> None:
    """Returns once ``count`` devices show ``"online": true`` in the status bucket."""
    online: set[str] = set()
    watcher = await kv.watchall()
    try:
        async for entry in watcher:
            if entry is None or entry.value is None:
                continue
            if json.loads(entry.value).get("online"):
                online.add(entry.key)
            else:
                online.discard(entry.key)
            if len(online) >= count:
                return
    finally:
        await watcher.stop()


async def _hearth(
    devices: list[Any], workdir: Path, steady_s: float
) -> tuple[float, float, float, int, int, float, float]:
    server = EmbeddedNats(workdir / "nats", port=free_port())
    postgres = EmbeddedPostgres(workdir / "pg", port=free_port())
    server.start()
    postgres.start()
    manager = None
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await ensure(js, streams=tuple(STREAMS), buckets=tuple(BUCKETS))
        kv = await js.key_value(DEVICE_STATUS_BUCKET)
        port = free_port()
        manager = subprocess.Popen(
            [sys.executable, "-m", "hearth_device_manager"],
            env={
                **os.environ,
                "HEARTH_NATS_URL": server.url,
                "HEARTH_DATABASE_URL": postgres.dsn(),
                "HEARTH_DATA_DIR": str(workdir / "data"),
                "HEARTH_SCOPE_KEY": scope_key(new_secret_key(), "device-manager"),
                "HEARTH_HTTP_PORT": str(port),
                "HEARTH_DISCOVERY_MDNS": "false",
                "HEARTH_DISCOVERY_PORTS": "[]",
                "HEARTH_LOG_LEVEL": "warning",
                "HEARTH_APPLY_CONCURRENCY": str(APPLY_CONCURRENCY),
                "HEARTH_DRIFT_INTERVAL_S": "0",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await _wait_http(port)
        _, idle_rss = _proc(manager.pid)
        specs = [
            {"name": f"dev{i:05}", "mac": d["mac"], "host": f"127.0.0.1:{d['port']}"}
            for i, d in enumerate(devices)
        ]
        started = time.perf_counter()
        reply = await nc.request(
            "hearth.cmd.device.ApplyDevices",
            json.dumps({"devices": specs, "actor": "bench"}).encode(),
            timeout=max(60, len(devices) / 10),
        )
        answer = json.loads(reply.data)
        declared = time.perf_counter() - started
        assert answer.get("ok", True) and not answer.get("waiting"), answer
        async with asyncio.timeout(max(120, len(devices) / 5)):
            await _all_online(kv, len(devices))
        connected = time.perf_counter() - started
        cpu_before, _ = _proc(manager.pid)
        await asyncio.sleep(steady_s)  # a measurement window, not a synchronisation
        cpu_after, rss = _proc(manager.pid)
        scanned, applied = await hearth_scan_and_apply(nc, devices, specs, workdir)
        await nc.close()
        cores = (cpu_after - cpu_before) / steady_s
        return declared, connected, cores, idle_rss, rss, scanned, applied
    finally:
        if manager is not None:
            manager.terminate()
            manager.wait(30)
        postgres.stop()
        server.stop()


async def run_devices(
    count: int = 5000, period_s: float = 60.0, steady_s: float = 60.0
) -> list[FleetRow]:
    _raise_file_limit()
    sim, devices = start_simulator(count, period_s)
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-devices-"))
    try:
        baseline, read, write = await aioshelly_connect_all(devices)
        declared, connected, cores, idle_rss, rss, scanned, applied = await _hearth(
            devices, workdir, steady_s
        )
    finally:
        assert sim.stdin is not None
        sim.stdin.close()
        sim.wait(60)
        shutil.rmtree(workdir, ignore_errors=True)
    per_device = (rss - idle_rss) / count / 1024
    return [
        FleetRow(
            "connect",
            f"baseline: aioshelly initialize of {count:,} devices, {CONNECT_CONCURRENCY} at once",
            f"{baseline:.2f} s",
        ),
        FleetRow(
            "connect",
            f"Hearth: {count:,} devices declared (ApplyDevices answered)",
            f"{declared:.2f} s",
        ),
        FleetRow(
            "connect", f"Hearth: {count:,} devices adopted to live in the KV", f"{connected:.2f} s"
        ),
        FleetRow(
            "steady state",
            f"device manager CPU, one status change per device per {period_s:.0f} s",
            f"{cores:.3f} cores",
        ),
        FleetRow(
            "steady state",
            f"device manager memory per device (RSS {rss / 2**20:.0f} MiB with the fleet, "
            f"{idle_rss / 2**20:.0f} MiB before)",
            f"{per_device:.1f} KiB",
        ),
        *_drift_rows(count, read, scanned, write, applied),
    ]


def _drift_rows(
    count: int, read: float, scanned: float, write: float, applied: float
) -> list[FleetRow]:
    changed = min(APPLIED, count)
    at_once = f"{APPLY_CONCURRENCY} at once"
    return [
        FleetRow(
            "drift scan",
            f"baseline: aioshelly Shelly.GetConfig of {count:,} devices, {at_once}",
            f"{read:.2f} s",
        ),
        FleetRow(
            "drift scan",
            f"Hearth: full drift scan of {count:,} devices (Apply, in sync: every config "
            f"read and compared), {at_once}",
            f"{scanned:.2f} s",
        ),
        FleetRow(
            "apply",
            f"baseline: aioshelly Switch.SetConfig of one field on {changed:,} devices",
            f"{write:.2f} s",
        ),
        FleetRow(
            "apply",
            f"Hearth: Apply of one field pushed to {changed:,} devices (backup, SetConfig, "
            "read-back each)",
            f"{applied:.2f} s",
        ),
    ]


if __name__ == "__main__":
    rows = asyncio.run(run_devices(int(sys.argv[1]) if len(sys.argv) > 1 else 50, 10, 10))
    for row in rows:
        print(f"{row.benchmark:14} {row.value:>14}  {row.what}")
