"""Gen1 (Shelly 1, Plug S, Dimmer 2): desired fields <-> ``/settings`` and its setters.

Setters take query parameters with the device's own names (``gateway``, not ``gw``); values
are sent as text (``true``/``false`` for flags). Timers are one number of seconds (0 = off).
"""

from __future__ import annotations

from typing import Any

from hearth_device_manager.domain.desired.catalog import ModelSpec
from hearth_device_manager.domain.desired.mapping import Rule, SecretRule, changes, read
from hearth_device_manager.domain.desired.models import DeviceConfig
from hearth_device_manager.domain.desired.tree import Path

_STATE_TO_DEVICE = {"off": "off", "on": "on", "restore_last": "last", "match_input": "switch"}
_STATE_FROM_DEVICE = {v: k for k, v in _STATE_TO_DEVICE.items()}


def _state_from(value: Any) -> Any:
    return _STATE_FROM_DEVICE.get(value)


def _state_to(value: Any) -> Any:
    return _STATE_TO_DEVICE[value]


def _not(value: Any) -> Any:
    return not value


def _ms_from(value: Any) -> Any:
    return value / 1000


def _ms_to(value: Any) -> Any:
    return round(value * 1000)


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _rule(desired: str, device: str, target: str, param: str, **kw: Any) -> Rule:
    return Rule(tuple(desired.split(".")), tuple(device.split(".")), target, (param,), **kw)


def _outputs(kind: str, block: str, setter: str) -> tuple[Rule, ...]:
    """A relay's or a light's own settings: name, power-on state, timers."""
    return (
        _rule(f"{kind}.N.name", f"{block}.N.name", setter, "name"),
        _rule(
            f"{kind}.N.initial_state",
            f"{block}.N.default_state",
            setter,
            "default_state",
            to_device=_state_to,
            from_device=_state_from,
        ),
        *(
            _rule(
                f"{kind}.N.{timer}_delay", f"{block}.N.{timer}", setter, timer, from_device=_float
            )
            for timer in ("auto_on", "auto_off")
        ),
    )


RULES: tuple[Rule, ...] = (
    _rule("system.name", "name", "/settings", "name"),
    _rule("system.timezone", "timezone", "/settings", "timezone"),
    _rule("system.lat", "lat", "/settings", "lat"),
    _rule("system.lon", "lng", "/settings", "lng"),
    _rule("system.discoverable", "discoverable", "/settings", "discoverable"),
    _rule(
        "system.led",
        "led_status_disable",
        "/settings",
        "led_status_disable",
        to_device=_not,
        from_device=_not,
    ),
    _rule("system.debug", "debug_enable", "/settings", "debug_enable"),
    _rule("system.sntp_server", "sntp.server", "/settings", "sntp_server"),
    _rule("wifi.sta.enable", "wifi_sta.enabled", "/settings/sta", "enabled"),
    _rule("wifi.sta.ssid", "wifi_sta.ssid", "/settings/sta", "ssid"),
    _rule("wifi.sta.ipv4mode", "wifi_sta.ipv4_method", "/settings/sta", "ipv4_method"),
    _rule("wifi.sta.ip", "wifi_sta.ip", "/settings/sta", "ip"),
    _rule("wifi.sta.netmask", "wifi_sta.mask", "/settings/sta", "netmask"),
    _rule("wifi.sta.gw", "wifi_sta.gw", "/settings/sta", "gateway"),
    _rule("wifi.sta.nameserver", "wifi_sta.dns", "/settings/sta", "dns"),
    _rule("wifi.sta1.enable", "wifi_sta1.enabled", "/settings/sta1", "enabled"),
    _rule("wifi.sta1.ssid", "wifi_sta1.ssid", "/settings/sta1", "ssid"),
    _rule("wifi.ap.enable", "wifi_ap.enabled", "/settings/ap", "enabled"),
    _rule("wifi.ap.ssid", "wifi_ap.ssid", "/settings/ap", "ssid"),
    _rule("mqtt.enable", "mqtt.enable", "/settings/mqtt", "mqtt_enable"),
    _rule("mqtt.server", "mqtt.server", "/settings/mqtt", "mqtt_server"),
    _rule("mqtt.user", "mqtt.user", "/settings/mqtt", "mqtt_user"),
    _rule("mqtt.client_id", "mqtt.id", "/settings/mqtt", "mqtt_id"),
    _rule("cloud.enable", "cloud.enabled", "/settings/cloud", "enabled"),
    *_outputs("switch", "relays", "/settings/relay/N"),
    _rule("switch.N.power_limit", "max_power", "/settings", "max_power"),
    *_outputs("light", "lights", "/settings/light/N"),
    _rule(
        "light.N.transition",
        "transition",
        "/settings",
        "transition",
        to_device=_ms_to,
        from_device=_ms_from,
    ),
    _rule("light.N.night_mode.enable", "night_mode.enabled", "/settings/night_mode", "enabled"),
    _rule(
        "light.N.night_mode.brightness",
        "night_mode.brightness",
        "/settings/night_mode",
        "brightness",
    ),
)
SECRETS = (
    SecretRule(("wifi", "sta", "password_secret"), "/settings/sta", ("key",)),
    SecretRule(("wifi", "sta1", "password_secret"), "/settings/sta1", ("key",)),
    SecretRule(("wifi", "ap", "password_secret"), "/settings/ap", ("key",)),
    SecretRule(("mqtt", "password_secret"), "/settings/mqtt", ("mqtt_pass",)),
)


def from_gen1(settings: dict[str, Any], spec: ModelSpec) -> DeviceConfig:
    """Import: a Gen1 ``/settings`` result as the typed model."""
    return read(settings, spec, RULES)


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def gen1_calls(
    items: list[tuple[Path, Any]], desired: DeviceConfig | None
) -> list[tuple[str, dict[str, Any]]]:
    """``(HTTP path, query parameters)`` per setter for the differing items; Wi-Fi last."""
    calls: dict[str, dict[str, Any]] = {}
    for (target, channel), fields in changes(items, RULES, SECRETS, desired).items():
        path = target.replace("N", channel) if channel is not None else target
        params = calls.setdefault(path, {})
        for param, value in fields.items():
            params[param[0]] = _text(value) if isinstance(value, bool | int | float) else value
    wifi = ("/settings/sta", "/settings/ap")
    return sorted(calls.items(), key=lambda c: (c[0].startswith(wifi), c[0]))
