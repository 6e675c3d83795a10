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
    components = _components(status)
    if components:
        compact["components"] = components
    return compact


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
