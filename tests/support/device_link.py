"""An in-memory device behind the device manager's ``DeviceLink`` port, for unit tests.

It keeps a Gen2+ config as ``Shelly.GetConfig`` shows it and applies ``*.SetConfig`` calls
to it; the real adapter (aioshelly against the simulator) must behave the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from hearth_device_manager.adapters.ports import Call
from hearth_device_manager.domain.errors import OtherDeviceError

#: Services whose SetConfig answers restart_required, as the devices (and the simulator) do.
RESTART_COMPONENTS = frozenset({"mqtt", "cloud", "ble", "ws"})


def _key(method: str, params: dict[str, Any]) -> str:
    component = method.split(".", 1)[0].lower()
    return f"{component}:{params.get('id', 0)}" if component in _INDEXED else component


_INDEXED = {"switch", "cover", "light", "input"}


def _merge(into: dict[str, Any], change: dict[str, Any]) -> None:
    """A SetConfig changes only the fields it names, nested ones too (``sys.device.name``)."""
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


class MemoryLink:
    def __init__(
        self,
        status: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        *,
        offers: dict[str, str] | None = None,
        restart_components: frozenset[str] = RESTART_COMPONENTS,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.info: dict[str, Any] = info if info is not None else {"ver": "1.0.0"}
        self.status: dict[str, Any] = status if status is not None else {"sys": {"cfg_rev": 1}}
        self.config: dict[str, Any] = config if config is not None else {}
        self.offers = dict(offers or {})
        self.restart_components = restart_components
        self.sent: list[Call] = []
        self.reboots = 0
        self.password: str | None = None
        self.updating: str | None = None
        self.closed = False

    async def read_config(self) -> dict[str, Any]:
        return copy.deepcopy(self.config)

    async def send(self, calls: Sequence[Call]) -> bool:
        restart = False
        for method, params in calls:
            key = _key(method, params)
            if key not in self.config:
                # What a device answers for a component it does not have (-105).
                raise OtherDeviceError(f"RPC error -105 Argument 'id', value {key} not found!")
            self.sent.append((method, params))
            _merge(self.config[key], params.get("config", {}))
            restart = restart or key in self.restart_components
            sys = self.status.setdefault("sys", {})
            sys["cfg_rev"] = int(sys.get("cfg_rev", 0)) + 1
            self.config.setdefault("sys", {})["cfg_rev"] = sys["cfg_rev"]
        return restart

    async def reboot(self) -> None:
        self.reboots += 1

    async def set_password(self, password: str | None) -> None:
        self.password = password

    async def check_firmware(self) -> dict[str, str]:
        return dict(self.offers)

    async def update_firmware(self, channel: str) -> None:
        self.updating = self.offers[channel]

    async def close(self) -> None:
        self.closed = True
