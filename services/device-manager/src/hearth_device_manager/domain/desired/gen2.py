"""Gen2+ (Plus, Pro, Gen3, Gen4): desired fields <-> ``Shelly.GetConfig`` and ``*.SetConfig``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hearth_device_manager.domain.desired.catalog import ModelSpec
from hearth_device_manager.domain.desired.mapping import Rule, SecretRule, changes, read
from hearth_device_manager.domain.desired.models import DeviceConfig
from hearth_device_manager.domain.desired.tree import Path, unflatten


def _int(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []

    def block(section: Path, key: str, method: str, fields: Mapping[str, Path]) -> None:
        for field, where in fields.items():
            desired = (*section, *field.split("."))
            rules.append(Rule(desired, (key, *where), method, where))

    sys = {
        "name": ("device", "name"),
        "eco_mode": ("device", "eco_mode"),
        "discoverable": ("device", "discoverable"),
        "timezone": ("location", "tz"),
        "lat": ("location", "lat"),
        "lon": ("location", "lon"),
        "debug": ("debug", "websocket", "enable"),
        "sntp_server": ("sntp", "server"),
    }
    block(("system",), "sys", "Sys.SetConfig", sys)
    same = ("enable", "ssid", "ipv4mode", "ip", "netmask", "gw", "nameserver")
    for sta in ("sta", "sta1"):
        block(("wifi", sta), "wifi", "WiFi.SetConfig", {f: (sta, f) for f in same})
    block(("wifi", "ap"), "wifi", "WiFi.SetConfig", {f: ("ap", f) for f in ("enable", "ssid")})
    switch = (
        "name",
        "in_mode",
        "initial_state",
        "auto_on",
        "auto_on_delay",
        "auto_off",
        "auto_off_delay",
        "power_limit",
        "voltage_limit",
        "current_limit",
    )
    block(("switch", "N"), "switch:N", "Switch.SetConfig", {f: (f,) for f in switch})
    cover = "name in_mode initial_state maxtime_open maxtime_close swap_inputs power_limit"
    cover_fields: dict[str, Path] = {f: (f,) for f in cover.split()}
    block(
        ("cover", "N"),
        "cover:N",
        "Cover.SetConfig",
        cover_fields | {"swap": ("invert_directions",)},
    )
    inputs = {f: (f,) for f in ("name", "type", "enable", "invert")}
    block(("input", "N"), "input:N", "Input.SetConfig", inputs)
    light: dict[str, Path] = {
        f: (f,)
        for f in ["name", "initial_state", "auto_on", "auto_on_delay", "auto_off", "auto_off_delay"]
    }
    light |= {
        "transition": ("transition_duration",),
        "min_brightness": ("range_map", "0"),
        "max_brightness": ("range_map", "1"),
        "night_mode.enable": ("night_mode", "enable"),
        "night_mode.brightness": ("night_mode", "brightness"),
    }
    block(("light", "N"), "light:N", "Light.SetConfig", light)
    mqtt = {f: (f,) for f in ("enable", "server", "user", "client_id", "topic_prefix")}
    block(("mqtt",), "mqtt", "MQTT.SetConfig", mqtt)
    block(("cloud",), "cloud", "Cloud.SetConfig", {"enable": ("enable",)})
    block(("ble",), "ble", "BLE.SetConfig", {"enable": ("enable",), "rpc": ("rpc", "enable")})
    ints = {"power_limit", "voltage_limit", "min_brightness", "max_brightness", "brightness"}
    return tuple(
        Rule(r.desired, r.device, r.target, r.param, from_device=_int)
        if r.desired[-1] in ints
        else r
        for r in rules
    )


RULES = _rules()
SECRETS = (
    SecretRule(("wifi", "sta", "password_secret"), "WiFi.SetConfig", ("sta", "pass")),
    SecretRule(("wifi", "sta1", "password_secret"), "WiFi.SetConfig", ("sta1", "pass")),
    SecretRule(("wifi", "ap", "password_secret"), "WiFi.SetConfig", ("ap", "pass")),
    SecretRule(("mqtt", "password_secret"), "MQTT.SetConfig", ("pass",)),
)
# Sys first, Wi-Fi last: a Wi-Fi change can cut the connection the other calls travel on.
_ORDER = (
    "Sys.SetConfig",
    "Switch.SetConfig",
    "Cover.SetConfig",
    "Input.SetConfig",
    "Light.SetConfig",
    "MQTT.SetConfig",
    "Cloud.SetConfig",
    "BLE.SetConfig",
    "WiFi.SetConfig",
)


def from_gen2(config: dict[str, Any], spec: ModelSpec) -> DeviceConfig:
    """Import: a ``Shelly.GetConfig`` result as the typed model."""
    typed = read(config, spec, RULES)
    if spec.lacks(("scripts",)) is not None:
        return typed
    scripts = sorted(
        str(v["name"])
        for k, v in config.items()
        if k.startswith("script:") and isinstance(v, dict) and v.get("name")
    )
    return typed.model_copy(update={"scripts": scripts}) if scripts else typed


def gen2_calls(
    items: list[tuple[Path, Any]], desired: DeviceConfig | None, actual: DeviceConfig | None
) -> list[tuple[str, dict[str, Any]]]:
    """``(method, params)`` per component for the differing (path, desired value) items."""
    groups = changes(items, RULES, SECRETS, desired)
    calls: list[tuple[str, dict[str, Any]]] = []
    for (method, channel), fields in sorted(
        groups.items(), key=lambda g: (_ORDER.index(g[0][0]), int(g[0][1] or 0))
    ):
        if ("range_map", "0") in fields or ("range_map", "1") in fields:
            fields = _range_map(fields, channel, desired, actual)  # noqa: PLW2901
        params: dict[str, Any] = {"config": unflatten(fields)}
        if channel is not None:
            params = {"id": int(channel), **params}
        calls.append((method, params))
    return calls


def _range_map(
    fields: dict[Path, Any],
    channel: str | None,
    desired: DeviceConfig | None,
    actual: DeviceConfig | None,
) -> dict[Path, Any]:
    """``range_map`` is one [min, max] list: the half that does not differ comes from Git,
    else from the device, else the full range."""
    bounds = []
    for index, field, default in (("0", "min_brightness", 0), ("1", "max_brightness", 100)):
        value = fields.get(("range_map", index))
        for source in (desired, actual):
            if value is None and source is not None and source.light is not None:
                light = source.light.get(int(channel or 0))
                value = getattr(light, field) if light is not None else None
        bounds.append(default if value is None else value)
    kept = {k: v for k, v in fields.items() if k[0] != "range_map"}
    return kept | {("range_map",): bounds}
