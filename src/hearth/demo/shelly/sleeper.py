"""Battery devices (H&T): mostly asleep, awake for a moment every ``wakeup_period``.

Asleep, the device answers nothing. On waking it listens on its port again and, when its
outbound WebSocket is configured (``Ws.SetConfig``), dials that server and sends
``NotifyFullStatus`` — that is how Home Assistant (aioshelly's ``WsServer``) learns it is up.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from hearth.demo.shelly.device import SimDevice


async def doze(device: SimDevice) -> None:
    await device.go_offline()


async def wake(device: SimDevice, session: aiohttp.ClientSession) -> None:
    """Come online and announce ourselves on the outbound WebSocket, if one is configured."""
    if not device.online:
        await device.come_online()
    device.status["sys"]["wakeup_reason"] = {"boot": "deepsleep_wake", "cause": "periodic"}
    ws_cfg = device.config["ws"]
    if not (ws_cfg.get("enable") and ws_cfg.get("server")):
        return
    frame = {"src": device.device_id, "dst": "ws", "method": "NotifyFullStatus",
             "params": {"ts": time.time(), **device.status}}  # fmt: skip
    async with session.ws_connect(ws_cfg["server"]) as ws:
        await ws.send_str(json.dumps(frame))


async def run_sleep_cycle(
    device: SimDevice, session: aiohttp.ClientSession, awake_s: float, asleep_s: float
) -> None:
    """Forever: wake, stay up ``awake_s``, sleep ``asleep_s`` (the demo's H&T rhythm)."""
    while True:
        await wake(device, session)
        await asyncio.sleep(awake_s)
        await doze(device)
        await asyncio.sleep(asleep_s)
