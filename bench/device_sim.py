"""``python -m bench.device_sim N PERIOD_S``: N simulated Gen2 devices in one process.

Prints one JSON line (the devices: mac, device_id, port), then changes every device's power
reading once per PERIOD_S, spread evenly over the period, until its stdin closes. Runs apart
from the bench so that the simulator's CPU is not counted as the device manager's.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys

from hearth.demo.shelly.fleet import Fleet
from hearth.demo.shelly.models import PLUS_1PM


async def _changes(fleet: Fleet, period_s: float) -> None:
    step = period_s / max(1, len(fleet.devices))
    while True:
        for device in fleet.devices:
            device.set_status("switch:0", {"apower": round(random.uniform(0, 60), 1)})
            await asyncio.sleep(step)


async def _stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


async def main(count: int, period_s: float) -> None:
    async with Fleet([PLUS_1PM] * count) as fleet:
        devices = [{"mac": d.mac, "device_id": d.device_id, "port": d.port} for d in fleet.devices]
        print(json.dumps(devices), flush=True)
        changes = asyncio.create_task(_changes(fleet, period_s)) if period_s > 0 else None
        await _stdin_closed()
        if changes is not None:
            changes.cancel()


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
