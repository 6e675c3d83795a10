"""The fleet in words and files: a device's status, and the inventory as JSON, CSV, a hosts
file and DHCP reservations (ISC dhcpd, dnsmasq, Kea). Pure: rows in, text out."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

EXPORT_FIELDS = (
    "device_id",
    "name",
    "mac",
    "model",
    "gen",
    "address",
    "firmware",
    "site",
    "groups",
    "status",
)
#: format → (media type, renderer)
Device = Mapping[str, Any]


def device_status(online: bool | None) -> str:
    return "unknown" if online is None else ("online" if online else "offline")


def mac_colons(mac: str | None) -> str | None:
    """``A8032AB10001`` or ``a8:03:2a:b1:00:01`` → ``a8:03:2a:b1:00:01``; None if not a MAC."""
    digits = re.sub(r"[^0-9a-fA-F]", "", mac or "").lower()
    if len(digits) != 12:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def ip_of(address: str | None) -> str | None:
    """The host part of ``host`` or ``host:port`` (``[v6]:port`` too)."""
    if not address:
        return None
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    host, sep, port = address.rpartition(":")
    return host if sep and port.isdigit() and ":" not in host else address


def hostnames(devices: Iterable[Device]) -> dict[str, str]:
    """A DNS label per device (its name, else its id), unique: a second "kitchen" gets
    "kitchen-2"."""
    taken: set[str] = set()
    names = {}
    for device in devices:
        base = re.sub(r"[^a-z0-9-]+", "-", (device["name"] or device["device_id"]).lower())
        base = base.strip("-")[:60] or "device"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        names[device["device_id"]] = name
    return names


def _record(device: Device) -> dict[str, Any]:
    record = {k: device.get(k) for k in EXPORT_FIELDS if k != "status"}
    record["groups"] = list(device.get("groups") or ())
    record["status"] = device_status(device.get("online"))
    return record


def _reservable(devices: Sequence[Device]) -> list[tuple[Device, str, str, str]]:
    """Devices with a MAC and an address: (device, hostname, mac, ip)."""
    names = hostnames(devices)
    found = []
    for device in devices:
        mac, ip = mac_colons(device.get("mac")), ip_of(device.get("address"))
        if mac and ip:
            found.append((device, names[device["device_id"]], mac, ip))
    return found


def as_json(devices: Sequence[Device]) -> str:
    return json.dumps({"devices": [_record(d) for d in devices]}, indent=2) + "\n"


def as_csv(devices: Sequence[Device]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for device in devices:
        record = _record(device)
        record["groups"] = " ".join(record["groups"])
        writer.writerow(["" if record[k] is None else record[k] for k in EXPORT_FIELDS])
    return buffer.getvalue()


def as_hosts(devices: Sequence[Device]) -> str:
    lines = ["# Shelly devices, exported by Hearth"]
    lines += [f"{ip}\t{name}\t# {d['device_id']}" for d, name, _, ip in _reservable(devices)]
    return "\n".join(lines) + "\n"


def as_dnsmasq(devices: Sequence[Device]) -> str:
    lines = ["# Shelly devices, exported by Hearth"]
    lines += [f"dhcp-host={mac},{ip},{name}" for _, name, mac, ip in _reservable(devices)]
    return "\n".join(lines) + "\n"


def as_dhcpd(devices: Sequence[Device]) -> str:
    blocks = ["# Shelly devices, exported by Hearth"]
    for _, name, mac, ip in _reservable(devices):
        blocks.append(f"host {name} {{\n  hardware ethernet {mac};\n  fixed-address {ip};\n}}")
    return "\n".join(blocks) + "\n"


def as_kea(devices: Sequence[Device]) -> str:
    """Kea DHCPv4 host reservations: paste into a subnet's ``reservations``."""
    reservations = [
        {"hw-address": mac, "ip-address": ip, "hostname": name}
        for _, name, mac, ip in _reservable(devices)
    ]
    return json.dumps({"reservations": reservations}, indent=2) + "\n"


EXPORTS: dict[str, tuple[str, Callable[[Sequence[Device]], str]]] = {
    "json": ("application/json", as_json),
    "csv": ("text/csv", as_csv),
    "hosts": ("text/plain", as_hosts),
    "dnsmasq": ("text/plain", as_dnsmasq),
    "dhcpd": ("text/plain", as_dhcpd),
    "kea": ("application/json", as_kea),
}
