"""The compact status of a device kept in ``hearth_device_status``: small, and equal for
equal states (no clock in it), so it is written only when something changed."""

from __future__ import annotations

from typing import Any

#: Per component: the fields worth showing live.
COMPONENT_FIELDS = ("output", "state", "apower", "brightness", "current_pos", "rh", "tC")


def compact_status(
    *,
    online: bool,
    address: str,
    model: str,
    generation: int,
    status: dict[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    compact: dict[str, Any] = {
        "online": online,
        "address": address,
        "model": model,
        "gen": generation,
    }
    if error:
        compact["error"] = error
    if not status:
        return compact
    compact.update(_system(status.get("sys") or {}))
    rssi = wifi_signal(status.get("wifi") or {})
    if rssi is not None:
        compact["rssi"] = rssi
    components = _components(status)
    if components:
        compact["components"] = components
    return compact


#: Wi-Fi signal is kept in steps of this many dB: a signal jitters by a dB or two from one
#: status to the next, and the compact status is written only when it changes.
RSSI_STEP_DB = 5


def wifi_signal(wifi: dict[str, Any]) -> int | None:
    """The station's signal (dBm) to the nearest ``RSSI_STEP_DB``; None when not connected."""
    rssi = wifi.get("rssi")
    if wifi.get("status") not in ("got ip", None) or not isinstance(rssi, int | float):
        return None
    if rssi >= 0:  # 0: no signal measured (not connected)
        return None
    return int(RSSI_STEP_DB * round(rssi / RSSI_STEP_DB))


def _system(sys: dict[str, Any]) -> dict[str, Any]:
    """Config revision, a pending restart and an available stable update."""
    found: dict[str, Any] = {}
    if "cfg_rev" in sys:
        found["cfg_rev"] = sys["cfg_rev"]
    if sys.get("restart_required"):
        found["restart_required"] = True
    stable = (sys.get("available_updates") or {}).get("stable") or {}
    if stable.get("version"):
        found["update"] = stable["version"]
    return found


def _components(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per component (``switch:0``, ``cover:0``, ...) the fields worth showing live."""
    components = {}
    for key, value in sorted(status.items()):
        if not isinstance(value, dict) or ":" not in key:
            continue
        fields = {f: value[f] for f in COMPONENT_FIELDS if f in value}
        temperature = value.get("temperature")
        if isinstance(temperature, dict) and "tC" in temperature:
            fields["tC"] = temperature["tC"]
        if fields:
            components[key] = fields
    return components
