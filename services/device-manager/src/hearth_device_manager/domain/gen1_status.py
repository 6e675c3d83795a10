"""Gen1 status in the Gen2 shape, so the KV, presence and drift treat both alike.

A Gen1 device reports ``/status`` (``relays[]``, ``lights[]``, ``meters[]``,
``cfg_changed_cnt``, ``update``; an H&T ``tmp``/``hum``/``bat``) and CoIoT values per block
(``relay_0: {"output": 1, "power": 12.5}``). ``merge_coiot`` folds CoIoT values into the last
``/status``; ``gen2_shape`` presents it as components (``switch:0``, ``light:0``,
``temperature:0``...) with ``sys.cfg_rev`` = ``cfg_changed_cnt``.
"""

from __future__ import annotations

from typing import Any

#: CoIoT block type -> the /status list its channel indexes.
_OUTPUTS = {"relay": "relays", "light": "lights"}


def _slot(status: dict[str, Any], key: str, index: int) -> dict[str, Any] | None:
    items = status.get(key)
    if isinstance(items, list) and 0 <= index < len(items):
        item = items[index]
        if isinstance(item, dict):
            return item
    return None


def merge_coiot(
    status: dict[str, Any], kind: str, channel: int | None, values: dict[str, Any]
) -> None:
    """One CoIoT block's current values (``kind`` ``relay``/``light``/``device``/``sensor``)
    into ``status`` in place; values the block does not carry are left as they were."""
    values = {k: v for k, v in values.items() if v is not None}
    if kind in _OUTPUTS and channel is not None:
        out = _slot(status, _OUTPUTS[kind], channel)
        if out is not None and "output" in values:
            out["ison"] = bool(values["output"])
        if out is not None and "brightness" in values:
            out["brightness"] = values["brightness"]
        meter = _slot(status, "meters", channel)
        if meter is not None and "power" in values:
            meter["power"] = values["power"]
    if "cfgChanged" in values:
        status["cfg_changed_cnt"] = values["cfgChanged"]
    if "temp" in values:
        status.setdefault("tmp", {}).update(value=values["temp"], tC=values["temp"])
    if "humidity" in values:
        status.setdefault("hum", {})["value"] = values["humidity"]
    if "battery" in values:
        status.setdefault("bat", {})["value"] = values["battery"]


def _offers(update: dict[str, Any]) -> dict[str, Any]:
    """``/status.update`` as Gen2's ``sys.available_updates``: stable when ``has_update``,
    beta when its version is not the one installed."""
    offers: dict[str, Any] = {}
    if update.get("has_update") and update.get("new_version"):
        offers["stable"] = {"version": update["new_version"]}
    if update.get("beta_version") not in (None, "", update.get("old_version")):
        offers["beta"] = {"version": update["beta_version"]}
    return offers


def gen2_shape(status: dict[str, Any]) -> dict[str, Any]:
    """A Gen1 ``/status`` as Gen2 components (what ``compact_status`` and drift read)."""
    sys: dict[str, Any] = {"cfg_rev": status.get("cfg_changed_cnt", 0)}
    offers = _offers(status.get("update") or {})
    if offers:
        sys["available_updates"] = offers
    shaped: dict[str, Any] = {"sys": sys}
    station = status.get("wifi_sta")
    if isinstance(station, dict):
        connected = bool(station.get("connected"))
        shaped["wifi"] = {
            "status": "got ip" if connected else "disconnected",
            "ssid": station.get("ssid") or None,
            "sta_ip": station.get("ip") or None,
            "rssi": station.get("rssi", 0) if connected else 0,
        }
    meters = status.get("meters") or []
    for kind, key in (("switch", "relays"), ("light", "lights")):
        for i, out in enumerate(status.get(key) or []):
            component: dict[str, Any] = {"id": i, "output": bool(out.get("ison"))}
            if "brightness" in out:
                component["brightness"] = out["brightness"]
            if i < len(meters) and isinstance(meters[i], dict) and "power" in meters[i]:
                component["apower"] = meters[i]["power"]
            shaped[f"{kind}:{i}"] = component
    if isinstance(status.get("tmp"), dict) and "tC" in status["tmp"]:
        shaped["temperature:0"] = {"id": 0, "tC": status["tmp"]["tC"]}
    if isinstance(status.get("hum"), dict) and "value" in status["hum"]:
        shaped["humidity:0"] = {"id": 0, "rh": status["hum"]["value"]}
    if isinstance(status.get("bat"), dict) and "value" in status["bat"]:
        shaped["devicepower:0"] = {"id": 0, "battery": {"percent": status["bat"]["value"]}}
    return shaped


#: CoIoT v2 sensor ids of battery devices (H&T) -> (block kind, value name), for reports that
#: arrive while no ``/cit/d`` description is at hand.
SLEEPER_SENSORS = {
    3101: ("sensor", "temp"),
    3103: ("sensor", "humidity"),
    3111: ("device", "battery"),
    9103: ("device", "cfgChanged"),
}


def merge_sleeper_report(status: dict[str, Any], values: list[list[Any]]) -> None:
    """A sleeping Gen1 device's CoIoT ``G`` values (``[[channel, id, value], ...]``) into
    ``status`` in place, by the CoIoT v2 sensor ids it uses."""
    for entry in values:
        if len(entry) < 3 or entry[1] not in SLEEPER_SENSORS:
            continue
        kind, name = SLEEPER_SENSORS[entry[1]]
        merge_coiot(status, kind, None, {name: entry[2]})


def sleep_period_s(settings: dict[str, Any]) -> float | None:
    """A Gen1 ``/settings`` ``sleep_mode`` (``{"period": 6, "unit": "h"}``) in seconds."""
    mode = settings.get("sleep_mode")
    if not isinstance(mode, dict) or not isinstance(mode.get("period"), int | float):
        return None
    scale = 3600 if mode.get("unit") == "h" else 60
    return float(mode["period"]) * scale
