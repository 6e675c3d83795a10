"""Gen1 models (Dimmer 2, Shelly 1, Plug S) in the shape their /shelly, /settings, /status take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FW = "20230913-112003/v1.14.0-gcb84623"


@dataclass(frozen=True)
class Gen1Model:
    type: str  # "SHSW-1"
    hostname_prefix: str  # "shelly1"
    relays: int = 0
    lights: int = 0
    meters: int = 0
    #: Battery device (H&T): asleep but for a moment every ``sleep_period_s`` seconds.
    sleep_period_s: int = 0


SHELLY_1 = Gen1Model("SHSW-1", "shelly1", relays=1)
PLUG_S = Gen1Model("SHPLG-S", "shellyplug-s", relays=1, meters=1)
DIMMER_2 = Gen1Model("SHDM-2", "shellydimmer2", lights=1, meters=1)
H_T = Gen1Model("SHHT-1", "shellyht", sleep_period_s=6 * 3600)
#: Models with outputs (the H&T, a battery sensor, is apart: `H_T`).
GEN1_MODELS = {m.type: m for m in (SHELLY_1, PLUG_S, DIMMER_2)}


def _sta() -> dict[str, Any]:
    keys = ("ssid", "ip", "gw", "mask", "dns")
    return {"enabled": False, "ipv4_method": "dhcp", **dict.fromkeys(keys)}


def gen1_state(model: Gen1Model, mac: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A factory-fresh (settings, status) pair."""
    hostname = f"{model.hostname_prefix}-{mac[-6:]}"
    settings: dict[str, Any] = {
        "device": {
            "type": model.type,
            "mac": mac,
            "hostname": hostname,
            "num_outputs": model.relays + model.lights,
            "num_meters": model.meters,
        },
        "wifi_ap": {"enabled": True, "ssid": hostname, "key": ""},
        "wifi_sta": _sta(),
        "wifi_sta1": _sta(),
        "login": {"enabled": False, "unprotected": False, "username": "admin"},
        "coiot": {"enabled": True, "update_period": 15, "peer": ""},
        "mqtt": {"enable": False, "server": "192.168.33.3:1883", "user": "", "id": hostname},
        "cloud": {"enabled": False, "connected": False},
        "name": None,
        "fw": FW,
        "discoverable": True,
        "build_info": {"build_id": FW},
        "sntp": {"server": "time.google.com", "enabled": True},
        "timezone": "Europe/Sofia",
        "relays": [
            {
                "name": None,
                "ison": False,
                "default_state": "off",
                "auto_on": 0.0,
                "auto_off": 0.0,
                "schedule": False,
            }
            for _ in range(model.relays)
        ],
        "lights": [
            {
                "name": None,
                "ison": False,
                "brightness": 50,
                "default_state": "last",
                "auto_on": 0.0,
                "auto_off": 0.0,
            }
            for _ in range(model.lights)
        ],
    }
    status: dict[str, Any] = {
        "wifi_sta": {"connected": False, "ssid": "", "ip": "", "rssi": 0},
        "relays": [
            {"ison": False, "has_timer": False, "source": "input"} for _ in range(model.relays)
        ],
        "lights": [
            {"ison": False, "brightness": 50, "source": "input"} for _ in range(model.lights)
        ],
        "meters": [{"power": 0.0, "is_valid": True, "total": 0} for _ in range(model.meters)],
        "update": {
            "status": "idle",
            "has_update": False,
            "new_version": FW,
            "old_version": FW,
            "beta_version": FW,
        },
        "has_update": False,
        "cfg_changed_cnt": 0,
        "uptime": 1,
        "mac": mac,
        "ram_total": 50000,
        "ram_free": 38000,
        "fs_size": 233681,
        "fs_free": 150600,
    }
    if model.sleep_period_s:
        _sleeper(settings, status, model.sleep_period_s)
    return settings, status


def _sleeper(settings: dict[str, Any], status: dict[str, Any], period_s: int) -> None:
    """An H&T: its sleep period in minutes (``sleep_mode``) and its sensor readings."""
    settings["sleep_mode"] = {"period": max(1, period_s // 60), "unit": "m"}
    settings["sensors"] = {"temperature_threshold": 1.0, "humidity_threshold": 5}
    status["tmp"] = {"value": 21.5, "units": "C", "tC": 21.5, "tF": 70.7, "is_valid": True}
    status["hum"] = {"value": 48.0, "is_valid": True}
    status["bat"] = {"value": 88, "voltage": 2.9}


def cit_d(model: Gen1Model) -> dict[str, Any]:
    """The block/sensor description (``/cit/d``): one block per output, one per meter."""
    blk: list[dict[str, Any]] = [{"I": 0, "D": "device"}]
    sen: list[dict[str, Any]] = [{"I": 9103, "T": "EVC", "D": "cfgChanged", "R": "U16", "L": 0}]
    for i in range(model.relays):
        blk.append({"I": 1 + i, "D": f"relay_{i}"})
        sen.append({"I": 1101 + 100 * i, "T": "S", "D": "output", "R": "0/1", "L": 1 + i})
    for i in range(model.lights):
        blk.append({"I": 1 + i, "D": f"light_{i}"})
        sen.append({"I": 1101 + 100 * i, "T": "S", "D": "output", "R": "0/1", "L": 1 + i})
        sen.append({"I": 5101 + 100 * i, "T": "S", "D": "brightness", "R": "1/100", "L": 1 + i})
    for i in range(model.meters):
        sen.append(
            {
                "I": 4101 + 100 * i,
                "T": "P",
                "D": "power",
                "U": "W",
                "R": ["0/3500", "-1"],
                "L": 1 + i,
            }
        )
    if model.sleep_period_s:
        blk.append({"I": 1, "D": "sensor_0"})
        sen += [
            {"I": 3101, "T": "T", "D": "temp", "U": "C", "R": ["-55/125", "999"], "L": 1},
            {"I": 3102, "T": "T", "D": "temp", "U": "F", "R": ["-67/257", "999"], "L": 1},
            {"I": 3103, "T": "H", "D": "humidity", "R": ["0/100", "999"], "L": 1},
            {"I": 3111, "T": "B", "D": "battery", "R": ["0/100", "-1"], "L": 0},
        ]
    return {"blk": blk, "sen": sen}


def cit_s(settings: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """The sensor values (``cit/s``) for the current status."""
    values: list[list[Any]] = [[0, 9103, status["cfg_changed_cnt"]]]
    for i, relay in enumerate(status["relays"]):
        values.append([0, 1101 + 100 * i, int(relay["ison"])])
    for i, light in enumerate(status["lights"]):
        values.append([0, 1101 + 100 * i, int(light["ison"])])
        values.append([0, 5101 + 100 * i, light["brightness"]])
    for i, meter in enumerate(status["meters"]):
        values.append([0, 4101 + 100 * i, meter["power"]])
    if "tmp" in status:
        values += [
            [0, 3101, status["tmp"]["tC"]],
            [0, 3102, status["tmp"]["tF"]],
            [0, 3103, status["hum"]["value"]],
            [0, 3111, status["bat"]["value"]],
        ]
    return {"G": values}
