"""Wake-ups of sleeping devices, behind the ``WakeSource`` port.

Gen1 battery devices (H&T) wake, send a CoIoT update to their peer (the shared socket,
``adapters.coiot``) and sleep again. Gen2+ battery devices (Plus H&T) dial the WebSocket
server configured on them (``Ws.SetConfig``) and send ``NotifyFullStatus``: the device manager
offers that endpoint with aioshelly's ``WsServer`` (``/api/shelly/ws``). Nothing here ever
connects to a sleeping device; ``prepare`` runs only while one is known to be awake.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from aioshelly.block_device.coap import CoapMessage
from aioshelly.rpc_device import WsServer
from aioshelly.rpc_device.device import mergedicts

from hearth_device_manager.adapters.coiot import Coiot
from hearth_device_manager.adapters.ports import DeviceLink, LinkTarget
from hearth_device_manager.domain.gen1_status import (
    gen2_shape,
    merge_sleeper_report,
    sleep_period_s,
)

OnWake = Callable[[dict[str, Any] | None, float | None], None]
WS_PATH = "/api/shelly/ws"


def _wakeup_period(status: dict[str, Any]) -> float | None:
    period = (status.get("sys") or {}).get("wakeup_period")
    return float(period) if isinstance(period, int | float) and period > 0 else None


class Wakes:
    def __init__(self, coiot: Coiot, ws: WsServer | None = None, ws_url: str = "") -> None:
        self._coiot = coiot
        self._ws = ws
        self._ws_url = ws_url

    def watch(self, target: LinkTarget, on_wake: OnWake) -> Callable[[], None]:
        if target.generation < 2:
            return self._watch_coiot(target, on_wake)
        if self._ws is None:
            return lambda: None
        return self._watch_ws(self._ws, target, on_wake)

    def _watch_coiot(self, target: LinkTarget, on_wake: OnWake) -> Callable[[], None]:
        raw: dict[str, Any] = {}

        def received(message: CoapMessage) -> None:
            values = (message.payload or {}).get("G") if isinstance(message.payload, dict) else None
            if isinstance(values, list):
                merge_sleeper_report(raw, values)
            on_wake(gen2_shape(raw) if raw else None, None)

        return self._coiot.watch(target.mac, received)

    def _watch_ws(self, ws: WsServer, target: LinkTarget, on_wake: OnWake) -> Callable[[], None]:
        status: dict[str, Any] = {}

        def received(frame: dict[str, Any]) -> None:
            params = frame.get("params")
            method = frame.get("method")
            if not isinstance(params, dict) or method not in ("NotifyFullStatus", "NotifyStatus"):
                return
            if method == "NotifyFullStatus":
                status.clear()
            mergedicts(status, {k: v for k, v in params.items() if k != "ts"})  # as RpcDevice
            on_wake(copy.deepcopy(status), _wakeup_period(status))

        ws.subscribe_updates(target.mac.upper(), received)

        def unwatch() -> None:
            ws.subscriptions.pop(target.mac.upper(), None)

        return unwatch

    async def prepare(self, target: LinkTarget, link: DeviceLink) -> float | None:
        if target.generation < 2:  # the CoIoT peer is set when the link opens
            return sleep_period_s(await link.read_config())
        if self._ws_url:
            ws = (await link.read_config()).get("ws") or {}
            if not ws.get("enable") or ws.get("server") != self._ws_url:
                config = {"enable": True, "server": self._ws_url, "ssl_ca": "*"}
                if await link.send([("Ws.SetConfig", {"config": config})]):
                    await link.reboot()  # the device dials the new server only after one
        return _wakeup_period(link.status)
