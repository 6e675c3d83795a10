"""The compact status of a device kept in ``hearth_device_status``: small, and equal for
equal states (no clock in it), so it is written only when something changed."""

from __future__ import annotations

from typing import Any

#: Per component: the fields worth showing live.
COMPONENT_FIELDS = ("output", "state", "apower", "brightness", "current_pos", "rh")


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
    sys = status.get("sys") or {}
    if "cfg_rev" in sys:
        compact["cfg_rev"] = sys["cfg_rev"]
    if sys.get("restart_required"):
        compact["restart_required"] = True
    stable = (sys.get("available_updates") or {}).get("stable") or {}
    if stable.get("version"):
        compact["update"] = stable["version"]
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
    if components:
        compact["components"] = components
    return compact
