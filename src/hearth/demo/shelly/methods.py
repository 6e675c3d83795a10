"""The Gen2+ RPC methods: ``call(device, method, params)`` returns a result or raises RpcError."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol

Params = dict[str, Any]


class RpcTarget(Protocol):
    """What the methods need of a simulated device (``device.RpcTarget`` is one)."""

    device_id: str
    config: dict[str, Any]
    status: dict[str, Any]
    kvs: dict[str, tuple[Any, str]]
    wifi_networks: list[dict[str, Any]]

    def device_info(self) -> dict[str, Any]: ...
    def schedule_reboot(self, delay_ms: int) -> None: ...
    def start_update(self, stage: str, url: str | None) -> None: ...
    def factory_reset(self) -> None: ...
    def apply_config(self, key: str, change: dict[str, Any], restart: bool) -> bool: ...
    def set_status(self, key: str, change: dict[str, Any]) -> None: ...
    def set_ha1(self, ha1: str | None) -> None: ...


# Which SetConfig replies say a reboot is needed (as the devices do: network-facing services).
RESTART_REQUIRED = {
    "sys": False,
    "wifi": False,
    "mqtt": True,
    "cloud": True,
    "ble": True,
    "ws": True,
}


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _key(device: RpcTarget, kind: str, params: Params) -> str:
    key = f"{kind}:{params.get('id', 0)}"
    if key not in device.config:
        raise RpcError(-105, f"Argument 'id', value {params.get('id')} not found!")
    return key


def _config_of(params: Params) -> dict[str, Any]:
    cfg = params.get("config")
    if not isinstance(cfg, dict):
        raise RpcError(-103, "Missing required argument 'config'!")
    return cfg


def _set_component(kind: str) -> Callable[[RpcTarget, Params], Any]:
    def handler(device: RpcTarget, params: Params) -> Any:
        key = _key(device, kind, params)
        restart = device.apply_config(key, _config_of(params), restart=False)
        return {"restart_required": restart}

    return handler


def _set_service(name: str) -> Callable[[RpcTarget, Params], Any]:
    def handler(device: RpcTarget, params: Params) -> Any:
        return {
            "restart_required": device.apply_config(
                name, _config_of(params), RESTART_REQUIRED[name]
            )
        }

    return handler


def _get(tree: str, kind: str, indexed: bool) -> Callable[[RpcTarget, Params], Any]:
    def handler(device: RpcTarget, params: Params) -> Any:
        key = _key(device, kind, params) if indexed else kind
        return copy.deepcopy(getattr(device, tree)[key])

    return handler


def _switch_set(device: RpcTarget, params: Params) -> Any:
    key = _key(device, "switch", params)
    was = device.status[key]["output"]
    on = not was if params.get("toggle") else bool(params.get("on"))
    device.set_status(key, {"output": on, "source": "WS_in"})
    return {"was_on": was}


def _light_set(device: RpcTarget, params: Params) -> Any:
    key = _key(device, "light", params)
    change: dict[str, Any] = {"source": "WS_in"}
    if "on" in params:
        change["output"] = bool(params["on"])
    if "brightness" in params:
        change["brightness"] = float(params["brightness"])
    device.set_status(key, change)
    return None


def _cover_move(state: str, pos: int | None) -> Callable[[RpcTarget, Params], Any]:
    def handler(device: RpcTarget, params: Params) -> Any:
        key = _key(device, "cover", params)
        target = params.get("pos", pos)
        device.set_status(key, {"state": state, "current_pos": target, "source": "WS_in"})
        return None

    return handler


def _kvs_get(device: RpcTarget, params: Params) -> Any:
    key = params.get("key")
    if key not in device.kvs:
        raise RpcError(-105, f"Argument 'key', value '{key}' not found!")
    return {"etag": device.kvs[key][1], "value": device.kvs[key][0]}


def _kvs_set(device: RpcTarget, params: Params) -> Any:
    if not isinstance(params.get("key"), str):
        raise RpcError(-103, "Missing required argument 'key'!")
    device.status["sys"]["kvs_rev"] += 1
    etag = f"kvs{device.status['sys']['kvs_rev']}"
    device.kvs[params["key"]] = (params.get("value"), etag)
    return {"etag": etag, "rev": device.status["sys"]["kvs_rev"]}


def _kvs_delete(device: RpcTarget, params: Params) -> Any:
    _kvs_get(device, params)
    del device.kvs[params["key"]]
    device.status["sys"]["kvs_rev"] += 1
    return {"rev": device.status["sys"]["kvs_rev"]}


def _kvs_list(device: RpcTarget, params: Params) -> Any:
    keys = {k: {"etag": e} for k, (_, e) in device.kvs.items()}
    return {"keys": keys, "rev": device.status["sys"]["kvs_rev"]}


def _components(device: RpcTarget, params: Params) -> Any:
    rev = device.status["sys"]["cfg_rev"]
    if params.get("dynamic_only"):
        return {"components": [], "cfg_rev": rev, "offset": 0, "total": 0}
    items = [
        {"key": k, "status": device.status.get(k, {}), "config": v}
        for k, v in device.config.items()
    ]
    return {"components": copy.deepcopy(items), "cfg_rev": rev, "offset": 0, "total": len(items)}


def _set_auth(device: RpcTarget, params: Params) -> Any:
    if params.get("user") != "admin" or params.get("realm") != device.device_id:
        raise RpcError(-103, "user must be 'admin' and realm the device id")
    device.set_ha1(params.get("ha1"))
    return None


HANDLERS: dict[str, Callable[[RpcTarget, Params], Any]] = {
    "Shelly.GetDeviceInfo": lambda d, p: d.device_info(),
    "Shelly.GetStatus": lambda d, p: copy.deepcopy(d.status),
    "Shelly.GetConfig": lambda d, p: copy.deepcopy(d.config),
    "Shelly.GetComponents": _components,
    "Shelly.SetAuth": _set_auth,
    "Shelly.Reboot": lambda d, p: d.schedule_reboot(int(p.get("delay_ms", 1000))),
    "Shelly.CheckForUpdate": lambda d, p: copy.deepcopy(d.status["sys"]["available_updates"]),
    "Shelly.Update": lambda d, p: d.start_update(str(p.get("stage", "stable")), p.get("url")),
    "Shelly.FactoryReset": lambda d, p: d.factory_reset(),
    "Sys.GetStatus": _get("status", "sys", False),
    "Sys.GetConfig": _get("config", "sys", False),
    "Switch.Set": _switch_set,
    "Switch.Toggle": lambda d, p: _switch_set(d, {**p, "toggle": True}),
    "Light.Set": _light_set,
    "Cover.Open": _cover_move("opening", 100),
    "Cover.Close": _cover_move("closing", 0),
    "Cover.Stop": _cover_move("stopped", None),
    "Cover.GoToPosition": _cover_move("stopped", None),
    "WiFi.GetStatus": _get("status", "wifi", False),
    "WiFi.Scan": lambda d, p: {"results": copy.deepcopy(d.wifi_networks)},
    "Script.List": lambda d, p: {"scripts": []},
    "KVS.Get": _kvs_get,
    "KVS.Set": _kvs_set,
    "KVS.Delete": _kvs_delete,
    "KVS.List": _kvs_list,
    "KVS.GetMany": lambda d, p: {
        "items": {k: {"value": v, "etag": e} for k, (v, e) in d.kvs.items()}
    },
}
for _kind in ("switch", "cover", "light", "input"):
    _name = _kind.capitalize()
    HANDLERS[f"{_name}.GetConfig"] = _get("config", _kind, True)
    HANDLERS[f"{_name}.GetStatus"] = _get("status", _kind, True)
    HANDLERS[f"{_name}.SetConfig"] = _set_component(_kind)
for _svc, _name in (
    ("sys", "Sys"),
    ("wifi", "WiFi"),
    ("mqtt", "MQTT"),
    ("cloud", "Cloud"),
    ("ble", "BLE"),
    ("ws", "Ws"),
):
    HANDLERS[f"{_name}.SetConfig"] = _set_service(_svc)
    HANDLERS.setdefault(f"{_name}.GetConfig", _get("config", _svc, False))
HANDLERS["Shelly.ListMethods"] = lambda d, p: {"methods": sorted(HANDLERS)}


def call(device: RpcTarget, method: str, params: Params | None) -> Any:
    handler = HANDLERS.get(method)
    if handler is None:
        raise RpcError(404, f"No handler for {method}")
    return handler(device, params or {})
