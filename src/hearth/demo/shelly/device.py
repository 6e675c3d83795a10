"""One simulated Gen2+ Shelly: its state, its notifications and its faults on demand.

Faults: ``go_offline``/``come_online`` (also on another host or port), ``slow_s`` (delay every
reply), ``set_password`` (auth changed behind Hearth's back), ``reboot_on_next_set`` (apply,
drop every socket, come back after ``reboot_s`` with ``restart_required`` cleared),
``change_behind_back`` (mutate config, bump cfg_rev, push config_changed), ``ota_fails``.
"""

from __future__ import annotations

import asyncio
import copy
import socket
import time
from collections import Counter
from typing import Any

from hearth.demo.shelly import server
from hearth.demo.shelly.auth import DigestGuard, make_ha1
from hearth.demo.shelly.models import Model, initial_state


def _merge(into: dict[str, Any], change: dict[str, Any]) -> None:
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


class SimDevice:
    def __init__(self, model: Model, mac: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.model, self.mac, self.host, self.port = model, mac.upper(), host, port
        self.device_id = f"{model.id_prefix}-{self.mac.lower()}"
        self.ver, self.fw_id = model.ver, model.fw_id
        self.config: dict[str, Any]
        self.status: dict[str, Any]
        self.config, self.status = initial_state(model, self.mac, self.device_id)
        self.kvs: dict[str, tuple[Any, str]] = {}
        self.calls: Counter[str] = Counter()  # answered RPC calls by method
        self.wifi_networks: list[dict[str, Any]] = [
            {"ssid": "homelab", "bssid": "aa:bb:cc:00:11:22", "auth": 3, "channel": 6, "rssi": -52}
        ]
        self.guard = DigestGuard(realm=self.device_id)
        self.peers: dict[Any, str] = {}  # open WebSocket -> the src it called from
        self.slow_s = 0.0
        self.reboot_s = 0.05
        self.reboot_on_next_set = False
        self.ota_fails = False
        self.online = False
        self._online = asyncio.Event()
        self._booted = asyncio.Condition()
        self.boots = 0
        self._runner: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: The address the device keeps while it is down (see ``server.hold_port``).
        self._held: socket.socket | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._runner, self.port = await server.serve(self, self.host, self.port)
        self._release_port()
        self.online = True
        self.boots += 1
        self._online.set()
        async with self._booted:
            self._booted.notify_all()

    async def wait_booted(self, boots: int) -> None:
        """Returns once the device has started ``boots`` times (a reboot is done)."""
        async with self._booted:
            await self._booted.wait_for(lambda: self.boots >= boots)

    async def wait_online(self) -> None:
        """Returns once the device answers again (after a reboot, an update, a fault)."""
        await self._online.wait()

    async def go_offline(self) -> None:
        """Close every socket and refuse new connections until ``come_online``."""
        self.online = False
        self._online.clear()
        for ws in list(self.peers):
            await ws.close()
        self.peers.clear()
        if self._runner is not None:
            if self._held is None:  # taken before the server lets go: never free meanwhile
                self._held = server.hold_port(self.host, self.port)
            await self._runner.cleanup()
            self._runner = None

    async def come_online(self, host: str | None = None, port: int | None = None) -> None:
        """Back up, on the same address unless told another (a device that moved)."""
        self.host = host or self.host
        self.port = self.port if port is None else port
        await self.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.go_offline()
        self._release_port()

    def _release_port(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- state -------------------------------------------------------------------------------
    def device_info(self) -> dict[str, Any]:
        return {
            "name": self.config["sys"]["device"]["name"],
            "id": self.device_id,
            "mac": self.mac,
            "slot": 0,
            "model": self.model.model,
            "gen": self.model.gen,
            "fw_id": self.fw_id,
            "ver": self.ver,
            "app": self.model.app,
            "auth_en": self.guard.enabled,
            "auth_domain": self.device_id if self.guard.enabled else None,
        }

    def set_ha1(self, ha1: str | None) -> None:
        self.guard.ha1 = ha1

    def set_password(self, password: str | None) -> None:
        """Fault: the password changed (or was removed) behind Hearth's back."""
        self.guard.ha1 = None if password is None else make_ha1(self.device_id, password)

    def apply_config(self, key: str, change: dict[str, Any], restart: bool) -> bool:
        _merge(self.config[key], change)
        self._bump_cfg_rev(key, restart)
        if self.reboot_on_next_set:
            self.reboot_on_next_set = False
            self._spawn(self._reboot(0))
        return restart

    def change_behind_back(self, key: str, change: dict[str, Any]) -> None:
        """Fault: someone else edited the config (the app, the web UI)."""
        _merge(self.config[key], change)
        self._bump_cfg_rev(key, False)

    def _bump_cfg_rev(self, key: str, restart: bool) -> None:
        sys = self.status["sys"]
        sys["cfg_rev"] += 1
        self.config["sys"]["cfg_rev"] = sys["cfg_rev"]
        sys["restart_required"] = sys["restart_required"] or restart
        _component, _, cid = key.partition(":")
        event: dict[str, Any] = {
            "component": key,
            "event": "config_changed",
            "restart_required": restart,
            "cfg_rev": sys["cfg_rev"],
            "ts": time.time(),
        }
        if cid:
            event["id"] = int(cid)
        self.notify_event(event)
        self.notify(
            "NotifyStatus",
            {
                "ts": time.time(),
                "sys": {"cfg_rev": sys["cfg_rev"], "restart_required": sys["restart_required"]},
            },
        )

    def set_status(self, key: str, change: dict[str, Any]) -> None:
        _merge(self.status[key], change)
        self.notify(
            "NotifyStatus",
            {"ts": time.time(), key: {"id": self.status[key].get("id", 0), **change}},
        )

    def factory_reset(self) -> None:
        self.config, self.status = initial_state(self.model, self.mac, self.device_id)
        self.kvs.clear()
        self.guard.ha1 = None
        self._spawn(self._reboot(0))

    # -- notifications -----------------------------------------------------------------------
    def notify(self, method: str, params: dict[str, Any]) -> None:
        for ws, dst in list(self.peers.items()):
            frame = {"src": self.device_id, "dst": dst, "method": method, "params": params}
            self._spawn(server.send(ws, frame))

    def notify_event(self, event: dict[str, Any]) -> None:
        self.notify("NotifyEvent", {"ts": time.time(), "events": [event]})

    def notify_full_status(self) -> None:
        self.notify("NotifyFullStatus", {"ts": time.time(), **copy.deepcopy(self.status)})

    # -- reboot and OTA ----------------------------------------------------------------------
    def offer_update(self, stable: str | None = None, beta: str | None = None) -> None:
        updates: dict[str, Any] = {}
        if stable:
            updates["stable"] = {"version": stable, "build_id": f"20990101-000000/{stable}-g1"}
        if beta:
            updates["beta"] = {"version": beta, "build_id": f"20990101-000000/{beta}-g1"}
        self.status["sys"]["available_updates"] = updates

    def schedule_reboot(self, delay_ms: int) -> None:
        self._spawn(self._reboot(delay_ms / 1000))

    def start_update(self, stage: str, url: str | None) -> None:
        self._spawn(self._update(stage, url))

    async def _reboot(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self.go_offline()
        await asyncio.sleep(self.reboot_s)
        self.status["sys"]["restart_required"] = False
        self.status["sys"]["uptime"] = 1
        await self.start()

    async def _update(self, stage: str, url: str | None) -> None:
        target = self.status["sys"]["available_updates"].get(stage, {}).get("version")
        self.notify_event(
            {"component": "sys", "event": "ota_begin", "msg": "Waiting for data", "ts": time.time()}
        )
        for percent in (25, 50, 75):
            await asyncio.sleep(0)
            if self.ota_fails and percent == 50:
                self.notify_event(
                    {
                        "component": "sys",
                        "event": "ota_error",
                        "msg": "Update failed: bad image",
                        "ts": time.time(),
                    }
                )
                return
            self.notify_event(
                {
                    "component": "sys",
                    "event": "ota_progress",
                    "msg": "Receiving",
                    "progress_percent": percent,
                    "ts": time.time(),
                }
            )
        if target or url:
            self.ver = target or self.ver
            self.fw_id = f"20990101-000000/{self.ver}-g1"
            self.config["sys"]["device"]["fw_id"] = self.fw_id
            self.status["sys"]["available_updates"] = {}
        self.notify_event(
            {
                "component": "sys",
                "event": "ota_success",
                "msg": "Update applied, rebooting",
                "ts": time.time(),
            }
        )
        await asyncio.sleep(0.01)  # let the event leave before the socket drops
        await self._reboot(0)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
