"""Gen2+ models in the shape real devices report (Shelly API docs, aioshelly's fixtures).

Each model says which components it has; ``initial_state`` builds the config and status
trees a factory-fresh device of that model would return. Data written here, not copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Model:
    model: str  # the SKU, e.g. "SNSW-001P16EU"
    app: str  # "Plus1PM"
    id_prefix: str  # "shellyplus1pm"
    gen: int
    ver: str
    fw_date: str
    switches: int = 0
    covers: int = 0
    lights: int = 0
    inputs: int = 0
    sleeping: bool = False  # battery device: asleep, wakes every wakeup_period seconds
    wakeup_period: int = 0

    @property
    def fw_id(self) -> str:
        return f"{self.fw_date}-120000/{self.ver}-g0a1b2c3"


PLUS_1PM = Model("SNSW-001P16EU", "Plus1PM", "shellyplus1pm", 2, "1.4.4", "20241011", 1, inputs=1)
PLUS_PLUG_S = Model("SNPL-00112EU", "PlusPlugS", "shellyplusplugs", 2, "1.4.4", "20241011", 1)
PRO_4PM = Model("SPSW-104PE16EU", "Pro4PM", "shellypro4pm", 2, "1.4.4", "20241011", 4, inputs=4)
PLUS_2PM_COVER = Model(
    "SNSW-102P16EU", "Plus2PM", "shellyplus2pm", 2, "1.4.4", "20241011", covers=1, inputs=2
)
PLUS_HT = Model(
    "SNSN-0013A",
    "PlusHT",
    "shellyplusht",
    2,
    "1.4.4",
    "20241011",
    sleeping=True,
    wakeup_period=7200,
)
MINI_1PM_GEN3 = Model(
    "S3SW-001P8EU", "Mini1PMG3", "shelly1pmminig3", 3, "1.5.1", "20250115", 1, inputs=1
)
ONE_PM_GEN4 = Model("S4SW-001P16EU", "S1PMG4", "shelly1pmg4", 4, "1.6.2", "20250520", 1, inputs=1)
DIMMER_GEN3 = Model(
    "S3DM-0A101WWL", "DimmerG3", "shellydimmerg3", 3, "1.5.1", "20250115", lights=1, inputs=2
)

MODELS = {
    m.app: m
    for m in (
        PLUS_1PM,
        PLUS_PLUG_S,
        PRO_4PM,
        PLUS_2PM_COVER,
        PLUS_HT,
        MINI_1PM_GEN3,
        ONE_PM_GEN4,
        DIMMER_GEN3,
    )
}


def _sta() -> dict[str, Any]:
    keys = ("ssid", "ip", "netmask", "gw", "nameserver")
    return {"is_open": True, "enable": False, "ipv4mode": "dhcp", **dict.fromkeys(keys)}


def _metered(t_c: float) -> dict[str, Any]:
    """The power-meter fields a switch or cover status carries."""
    return {
        "apower": 0.0,
        "voltage": 230.1,
        "current": 0.0,
        "aenergy": {"total": 0.0, "by_minute": [0.0, 0.0, 0.0], "minute_ts": 0},
        "temperature": {"tC": t_c, "tF": round(t_c * 9 / 5 + 32, 1)},
    }


def _switch(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    cfg = {
        "id": i,
        "name": None,
        "in_mode": "follow",
        "initial_state": "match_input",
        "auto_on": False,
        "auto_on_delay": 60.0,
        "auto_off": False,
        "auto_off_delay": 60.0,
        "power_limit": 4480,
        "voltage_limit": 280,
        "current_limit": 16.0,
    }
    st = {
        "id": i,
        "source": "init",
        "output": False,
        **_metered(40.0),
    }
    return cfg, st


def _cover(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    cfg = {
        "id": i,
        "name": None,
        "in_mode": "dual",
        "initial_state": "stopped",
        "invert_directions": False,
        "maxtime_open": 60.0,
        "maxtime_close": 60.0,
        "swap_inputs": False,
        "power_limit": 2800,
    }
    st = {
        "id": i,
        "source": "init",
        "state": "stopped",
        "current_pos": None,
        "pos_control": False,
        "last_direction": None,
        **_metered(38.0),
    }
    return cfg, st


def _light(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    cfg = {
        "id": i,
        "name": None,
        "initial_state": "restore_last",
        "auto_on": False,
        "auto_off": False,
        "default": {"brightness": 50},
        "min_brightness_on_toggle": 3,
    }
    st = {"id": i, "source": "init", "output": False, "brightness": 50.0}
    return cfg, st


def _input(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"id": i, "name": None, "type": "switch", "enable": True, "invert": False}, {
        "id": i,
        "state": False,
    }


def initial_state(model: Model, mac: str, device_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A factory-fresh (config, status) pair for ``model``."""
    config: dict[str, Any] = {
        "sys": {
            "device": {
                "name": None,
                "mac": mac,
                "fw_id": model.fw_id,
                "discoverable": True,
                "eco_mode": False,
            },
            "location": {"tz": "Europe/Sofia", "lat": 42.7, "lon": 23.3},
            "debug": {
                "level": 2,
                "mqtt": {"enable": False},
                "websocket": {"enable": False},
                "udp": {"addr": None},
            },
            "ui_data": {},
            "rpc_udp": {"dst_addr": None, "listen_port": None},
            "sntp": {"server": "time.google.com"},
            "cfg_rev": 0,
        },
        "wifi": {
            "ap": {
                "ssid": f"{model.app}-{mac}",
                "is_open": True,
                "enable": True,
                "range_extender": {"enable": False},
            },
            "sta": _sta(),
            "sta1": _sta(),
            "roam": {"rssi_thr": -80, "interval": 60},
        },
        "cloud": {"enable": True, "server": "shelly-103-eu.shelly.cloud:6022/jrpc"},
        "mqtt": {
            "enable": False,
            "server": None,
            "client_id": device_id,
            "user": None,
            "topic_prefix": device_id,
            "rpc_ntf": True,
            "status_ntf": False,
            "use_client_cert": False,
            "enable_control": True,
        },
        "ble": {"enable": True, "rpc": {"enable": True}, "observer": {"enable": False}},
        "ws": {"enable": False, "server": None, "ssl_ca": "ca.pem"},
    }
    status: dict[str, Any] = {
        "sys": {
            "mac": mac,
            "restart_required": False,
            "time": "12:00",
            "unixtime": 1733313600,
            "uptime": 1,
            "ram_size": 260000,
            "ram_free": 120000,
            "fs_size": 458752,
            "fs_free": 180000,
            "cfg_rev": 0,
            "kvs_rev": 0,
            "schedule_rev": 0,
            "webhook_rev": 0,
            "available_updates": {},
            "reset_reason": 3,
        },
        "wifi": {"sta_ip": None, "status": "disconnected", "ssid": None, "rssi": 0},
        "cloud": {"connected": False},
        "mqtt": {"connected": False},
        "ble": {},
        "ws": {"connected": False},
    }
    if model.sleeping:
        config["sys"]["sleep"] = {"wakeup_period": model.wakeup_period}
        status["sys"]["wakeup_period"] = model.wakeup_period
        status["sys"]["wakeup_reason"] = {"boot": "deepsleep_wake", "cause": "periodic"}
        config["temperature:0"] = {"id": 0, "name": None, "report_thr_C": 1.0}
        config["humidity:0"] = {"id": 0, "name": None, "report_thr": 5.0}
        config["devicepower:0"] = {"id": 0}
        status["temperature:0"] = {"id": 0, "tC": 21.5, "tF": 70.7}
        status["humidity:0"] = {"id": 0, "rh": 48.2}
        status["devicepower:0"] = {
            "id": 0,
            "battery": {"V": 5.9, "percent": 88},
            "external": {"present": False},
        }
    for kind, count, make in (
        ("switch", model.switches, _switch),
        ("cover", model.covers, _cover),
        ("light", model.lights, _light),
        ("input", model.inputs, _input),
    ):
        for i in range(count):
            config[f"{kind}:{i}"], status[f"{kind}:{i}"] = make(i)
    return config, status
