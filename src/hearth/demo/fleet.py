"""The demo's Shelly fleet: which simulated devices run, and their desired config in Git.

Four devices of both generations, each with its file in the demo's fleet repository
(``devices/*.toml``, a ``local`` profile, groups ``outside`` with policy ``apply`` and
``kitchen`` with policy ``alert``). The devices start factory-fresh, so at start Hearth
converges the ``outside`` devices by itself while the kettle (``kitchen``, alert only) stays
drifted until someone applies it; the workshop's Pro 4PM offers a firmware update (the
firmware a device was updated to is kept from one run to the next, the rest starts fresh).

A Gen1 device must listen on port 80 of its own address (aioshelly insists on port 80), so
it gets a loopback address of its own, 127.0.2.N: that needs root (or a lowered
``net.ipv4.ip_unprivileged_port_start``); without it the demo runs the Gen2+ devices only.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from hearth.demo.shelly.models import MODELS

FLEET_REPOSITORY = "demo/shelly-fleet"
FIRST_PORT = 8301  # Gen2+ devices on 127.0.0.1:8301.. (+ the port offset), else free ports
GEN1_NETWORK = "127.0.2."


@dataclass(frozen=True)
class DemoDevice:
    name: str
    model: str  # the simulator's key: a Gen2+ app name ("Plus1PM") or a Gen1 type ("SHSW-1")
    gen: int
    mac: str
    groups: tuple[str, ...]
    desired: str  # the device file after its identity lines
    offer: bool = False  # offers a firmware update (the version after the one it runs)
    profile: str | None = "local"

    @property
    def sku(self) -> str:
        return self.model if self.gen == 1 else MODELS[self.model].model

    @property
    def device_id(self) -> str:
        prefix = self.model.lower() if self.gen == 1 else MODELS[self.model].id_prefix
        return f"{prefix}-{self.mac.lower()}"

    def file(self) -> str:
        lines = [f'mac = "{self.mac}"', f'model = "{self.sku}"']
        if self.profile:
            lines.append(f'profile = "{self.profile}"')
        lines.append("groups = [" + ", ".join(f'"{g}"' for g in self.groups) + "]")
        return "\n".join(lines) + "\n\n" + self.desired


DEVICES = (
    DemoDevice(
        "porch",
        "Plus1PM",
        2,
        "A0B0C0DE0001",
        ("outside",),
        '[system]\nname = "Porch"\n\n[switch.0]\nauto_off = true\nauto_off_delay = 900.0\n',
    ),
    DemoDevice(
        "kettle",
        "PlusPlugS",
        2,
        "A0B0C0DE0002",
        ("kitchen",),
        "# Group kitchen only alerts: apply this on the device's page, or with\n"
        "# `hearth devices apply kettle`.\n"
        '[system]\nname = "Kettle"\n\n[switch.0]\nauto_off = true\nauto_off_delay = 600.0\n',
    ),
    DemoDevice(
        "workshop",
        "Pro4PM",
        2,
        "A0B0C0DE0003",
        ("outside",),
        '[system]\nname = "Workshop"\n\n[switch.0]\nname = "Bench"\n\n'
        '[switch.1]\nname = "Lights"\n',
        offer=True,
    ),
    DemoDevice(
        "garage-light",
        "SHSW-1",
        1,
        "A0B0C0DE0004",
        ("outside",),
        '[system]\nname = "Garage light"\n\n[switch.0]\nauto_off_delay = 300.0\n',
        profile=None,
    ),
)

FILES = {
    "README.md": (
        "# Desired config of the demo's Shelly devices\n\n"
        "One file per device in `devices/`, shared settings in `profiles/` and `groups/`\n"
        "(see Hearth's docs/devices.md). Edit, commit and `git push`: Hearth compares the\n"
        "devices with it, applies it to the `outside` group and reports drift of `kitchen`.\n"
    ),
    "profiles/local.toml": (
        "# Local-first: no Shelly cloud, and our own time zone.\n"
        '[system]\ntimezone = "Europe/Berlin"\n\n[cloud]\nenable = false\n'
    ),
    "groups/outside.toml": '# Hearth keeps these devices as Git says.\npolicy = "apply"\n',
    "groups/kitchen.toml": '# Hearth reports drift here; a person applies.\npolicy = "alert"\n',
    **{f"devices/{d.name}.toml": d.file() for d in DEVICES},
}


def gen1_address(port_offset: int) -> tuple[str | None, str]:
    """A loopback address whose TCP 80 and UDP 5683 are free, or None and why not."""
    start = port_offset % 254
    for i in range(254):
        host = f"{GEN1_NETWORK}{1 + (start + i) % 254}"
        try:
            with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                tcp.bind((host, 80))
                udp.bind((host, 5683))
        except PermissionError:
            return None, (
                "the Gen1 Shelly 1 (garage-light) is left out: Gen1 devices need port 80 of "
                "their own address and only root may bind it; the demo runs Gen2+ devices only"
            )
        except OSError:
            continue
        return host, ""
    return None, "the Gen1 Shelly 1 (garage-light) is left out: no free 127.0.2.N:80"


def sim_spec(device: DemoDevice, host: str, port: int) -> dict[str, Any]:
    """One device as ``hearth.demo.fleet_sim`` takes it."""
    return {
        "model": device.model,
        "gen": device.gen,
        "mac": device.mac,
        "host": host,
        "port": port,
        "offer": device.offer,
    }
