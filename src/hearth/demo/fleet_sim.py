"""The demo's simulated Shelly devices, one process: ``python -m hearth.demo.fleet_sim SPEC STATE``.

``SPEC`` is a JSON list of devices (``hearth.demo.fleet.sim_spec``): Gen2+ devices on
``host:port``, Gen1 devices on ``host:80`` and CoIoT ``host:5683``, and whether each offers
a firmware update. The devices start factory-fresh, except for the firmware they were
updated to, which ``STATE`` (a JSON file) keeps from one run to the next: a device updated
last time runs that version and offers the next one. While they run, they are on the demo's
Wi-Fi with a signal that wanders, and a metering device's load goes on and off
(``live_a_little``), so the device pages have power and signal to draw. They run until
SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import sys
from pathlib import Path
from typing import Any

from hearth.demo.shelly.device import SimDevice
from hearth.demo.shelly.gen1 import SimGen1Device
from hearth.demo.shelly.gen1_models import GEN1_MODELS
from hearth.demo.shelly.models import MODELS


def next_version(version: str) -> str:
    """The version after ``version``: its minor number up (``1.4.4`` → ``1.5.0``)."""
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:2]] + [0, 0]
    return f"{parts[0]}.{parts[1] + 1}.0"


def build(spec: dict[str, Any], versions: dict[str, str]) -> SimDevice | SimGen1Device:
    if spec["gen"] == 1:
        return SimGen1Device(GEN1_MODELS[spec["model"]], spec["mac"], spec["host"])
    device = SimDevice(MODELS[spec["model"]], spec["mac"], spec["host"], spec["port"])
    installed = versions.get(device.mac)
    if installed and installed != device.ver:
        device.ver = installed
        device.fw_id = f"20990101-000000/{installed}-g1"
        device.config["sys"]["device"]["fw_id"] = device.fw_id
    if spec.get("offer"):
        device.offer_update(stable=next_version(device.ver))
    return device


def load_versions(state: Path) -> dict[str, str]:
    try:
        loaded = json.loads(state.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


#: How often the demo's devices report a new Wi-Fi signal and, when they meter, power.
LIFE_S = 20.0


def live_a_little(device: SimDevice, tick: int) -> None:
    """On the demo's Wi-Fi (a signal that wanders a few dB around the device's own) and, for
    a device that meters, a load that changes: so the device pages have something to draw."""
    seed = int(device.mac[-2:], 16)
    rssi = -50 - seed % 25 + random.randint(-4, 4)  # noqa: S311 (a demo, not a secret)
    device.set_status(
        "wifi", {"sta_ip": device.host, "status": "got ip", "ssid": "homelab", "rssi": rssi}
    )
    for key, component in device.status.items():
        if key.startswith(("switch:", "light:")) and "apower" in component:
            # Someone uses what is plugged in: on for a few minutes, then off for a while.
            base = 5 + seed % 60
            on = (tick // 6 + seed) % 4 != 0
            watts = round(base * random.uniform(0.9, 1.1), 1) if on else 0.0  # noqa: S311
            device.set_status(key, {"output": on, "apower": watts})


async def live(devices: list[SimDevice | SimGen1Device], stop: asyncio.Event) -> None:
    tick = 0
    while not stop.is_set():
        for device in devices:
            if isinstance(device, SimDevice) and not device.model.sleeping:
                live_a_little(device, tick)
        tick += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LIFE_S)


async def run(devices: list[SimDevice | SimGen1Device]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.gather(*(d.start() for d in devices))
    life = asyncio.create_task(live(devices, stop))
    try:
        await stop.wait()
    finally:
        life.cancel()
        await asyncio.gather(*(d.stop() for d in devices), return_exceptions=True)


def main(specs: list[dict[str, Any]], state: Path) -> None:
    versions = load_versions(state)
    devices = [build(s, versions) for s in specs]
    try:
        asyncio.run(run(devices))
    finally:
        versions = {d.mac: d.ver for d in devices if isinstance(d, SimDevice)}
        state.write_text(json.dumps(versions, indent=2))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), Path(sys.argv[2]))
