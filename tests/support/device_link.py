"""An in-memory device behind the device manager's ``DeviceLink`` port, for unit tests.

It keeps a Gen2+ config as ``Shelly.GetConfig`` shows it and applies ``*.SetConfig`` calls
to it; the real adapter (aioshelly against the simulator) must behave the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hearth_device_manager.ports import Call


def _key(method: str, params: dict[str, Any]) -> str:
    component = method.split(".", 1)[0].lower()
    return f"{component}:{params['id']}" if "id" in params else component


class MemoryLink:
    def __init__(
        self,
        status: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        *,
        offers: dict[str, str] | None = None,
        restart_fields: frozenset[str] = frozenset(),
        info: dict[str, Any] | None = None,
    ) -> None:
        self.info: dict[str, Any] = info if info is not None else {"ver": "1.0.0"}
        self.status: dict[str, Any] = status if status is not None else {"sys": {"cfg_rev": 1}}
        self.config: dict[str, Any] = config if config is not None else {}
        self.offers = dict(offers or {})
        self.restart_fields = restart_fields
        self.sent: list[Call] = []
        self.reboots = 0
        self.password: str | None = None
        self.updating: str | None = None
        self.closed = False

    async def read_config(self) -> dict[str, Any]:
        return {key: dict(value) for key, value in self.config.items()}

    async def send(self, calls: Sequence[Call]) -> bool:
        restart = False
        for method, params in calls:
            self.sent.append((method, params))
            block = self.config.setdefault(_key(method, params), {})
            changed = params.get("config", {})
            block.update(changed)
            restart = restart or bool(self.restart_fields & set(changed))
        sys = self.status.setdefault("sys", {})
        sys["cfg_rev"] = int(sys.get("cfg_rev", 0)) + len(calls)
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
