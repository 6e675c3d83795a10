"""Gen1 setters: ``/settings/<part>?k=v`` and ``/relay/N?turn=on``; unknown keys are ignored."""

from __future__ import annotations

from typing import Any, Protocol


class Gen1Settings(Protocol):
    """What the setters need of a simulated Gen1 device (``gen1.Gen1Settings`` is one)."""

    settings: dict[str, Any]
    status: dict[str, Any]
    password: str | None

    def settings_view(self) -> dict[str, Any]: ...


# setter parameter -> settings key, per block (the devices accept only these names)
_FIELDS = {
    "sta": (
        "wifi_sta",
        {
            "enabled": "enabled",
            "ssid": "ssid",
            "key": "key",
            "ipv4_method": "ipv4_method",
            "ip": "ip",
            "gateway": "gw",
            "netmask": "mask",
            "dns": "dns",
        },
    ),
    "sta1": ("wifi_sta1", {"enabled": "enabled", "ssid": "ssid", "key": "key"}),
    "ap": ("wifi_ap", {"enabled": "enabled", "ssid": "ssid", "key": "key"}),
    "login": (
        "login",
        {"enabled": "enabled", "unprotected": "unprotected", "username": "username"},
    ),
    "mqtt": (
        "mqtt",
        {
            "mqtt_enable": "enable",
            "mqtt_server": "server",
            "mqtt_user": "user",
            "mqtt_pass": "pass",
            "mqtt_id": "id",
        },
    ),
    "cloud": ("cloud", {"enabled": "enabled"}),
    # what aioshelly's configure_coiot_protocol sends: where CoIoT updates go (unicast)
    "advanced": ("coiot", {"coiot_enable": "enabled", "coiot_peer": "peer"}),
}
_TEXT = ("ssid", "key", "pass", "username", "peer")


def _value(text: str) -> Any:
    if text.lower() in ("1", "true", "on"):
        return True
    if text.lower() in ("0", "false", "off"):
        return False
    return text


def _typed(current: Any, text: str) -> Any:
    """A query value in the type the field has: ``default_state=on`` stays the text "on"."""
    if isinstance(current, bool):
        return _value(text)
    if isinstance(current, int | float):
        try:
            return type(current)(float(text))
        except ValueError:
            return current  # the device ignores what it cannot read
    return text


def apply_setting(device: Gen1Settings, parts: list[str], query: dict[str, str]) -> dict[str, Any]:
    if parts[0] in ("relay", "light") and len(parts) == 2:
        block = device.settings[f"{parts[0]}s"][int(parts[1])]
        for key in set(query) & set(block):
            block[key] = _typed(block[key], query[key])
        device.status["cfg_changed_cnt"] += 1
        return dict(block)
    if parts[0] not in _FIELDS:
        return device.settings_view()
    name, fields = _FIELDS[parts[0]]
    block = device.settings[name]
    for param, key in fields.items():
        if param in query:
            block[key] = query[param] if key in _TEXT else _value(query[param])
    if parts[0] == "login" and "password" in query:
        device.password = query["password"]
    device.status["cfg_changed_cnt"] += 1
    view = device.settings_view()
    return dict(view[name])


def switch_output(
    device: Gen1Settings, kind: str, index: int, query: dict[str, str]
) -> dict[str, Any]:
    state = device.status[f"{kind}s"][index]
    turn = query.get("turn")
    if turn in ("on", "off"):
        state["ison"] = turn == "on"
    elif turn == "toggle":
        state["ison"] = not state["ison"]
    if kind == "light" and "brightness" in query:
        state["brightness"] = int(query["brightness"])
    return dict(state)
