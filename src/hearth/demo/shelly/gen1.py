"""One simulated Gen1 Shelly: HTTP on ``host:80`` (basic auth) and CoIoT on ``host:5683``.

aioshelly insists on port 80 for Gen1, so each device gets its own loopback address
(127.0.0.N, root needed). Setters take query parameters and, like the devices, silently
ignore parameters they do not know; ``/settings`` never echoes Wi-Fi keys or passwords.

CoIoT: the device answers ``cit/s`` and ``cit/d`` requests and, on every change of an
output (HTTP ``/relay/N``, or ``press`` — a person at the wall switch), at boot or waking, sends
an unsolicited update (CoAP code 0.30) to its CoIoT peer (``/settings/advanced?coiot_peer=``,
in effect from the next boot, as on the devices), else to the multicast group 224.0.1.187:5683.
``/reboot`` answers, drops off for ``reboot_s`` and comes back (``wait_booted(n)``).
``/ota?update=true`` (or ``beta=true``) installs what ``offer_update`` offered on that
channel: ``update.status`` is ``updating`` for ``ota_s``, then the device reboots on the new
firmware (``fw`` of ``/shelly`` and ``/settings``, ``update.old_version``).
Faults: ``coiot_muted`` (updates are lost on the way, replies still come),
``go_offline``/``come_online`` (also on another address), ``ota_fails`` (the update ends
without installing anything: back to ``idle`` on the old firmware, no reboot).
A battery model (H&T) is asleep until ``wake``: then it answers, sends its update, and
``doze`` puts it back to sleep.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import struct
from typing import Any

from aiohttp import web

from hearth.demo.shelly import gen1_setters as _setters
from hearth.demo.shelly.gen1_models import Gen1Model, cit_d, cit_s, gen1_state

GEN1_KEY: web.AppKey[SimGen1Device] = web.AppKey("gen1")
COAP_DEVICE_ID = 3332
COIOT_MULTICAST = ("224.0.1.187", 5683)


def _coap_option(number: int, value: bytes) -> bytes:
    """One CoAP option as the first option of a message (delta from 0), long forms included."""

    def nibble(n: int) -> tuple[int, bytes]:
        if n < 13:
            return n, b""
        if n < 269:
            return 13, bytes([n - 13])
        return 14, struct.pack("!H", n - 269)

    delta, delta_ext = nibble(number)
    length, length_ext = nibble(len(value))
    return bytes([(delta << 4) | length]) + delta_ext + length_ext + value


class _Coiot(asyncio.DatagramProtocol):
    def __init__(self, device: SimGen1Device) -> None:
        self.device = device
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) < 10 or b"cit" not in data or self.transport is None:
            return
        path = data[9:10]
        payload = self.device.coap_payload(path.decode(errors="replace"))
        if payload is not None:
            mid = data[2:4]
            header = bytes([0x60, 69]) + mid  # ACK, 2.05 Content
            message = header + _coap_option(COAP_DEVICE_ID, self.device.coap_id().encode())
            self.transport.sendto(message + b"\xff" + json.dumps(payload).encode(), addr)


class SimGen1Device:
    def __init__(self, model: Gen1Model, mac: str, host: str) -> None:
        self.model, self.mac, self.host = model, mac.upper(), host
        self.device_id = f"{model.type.lower()}-{self.mac.lower()}"
        self.settings, self.status = gen1_state(model, self.mac)
        self.password: str | None = None
        self.ota_requests: list[dict[str, str]] = []
        self.ota_s = 0.05
        self.ota_fails = False
        self.reboots = 0
        self.reboot_s = 0.05
        self.boots = 0
        self._booted = asyncio.Condition()
        self._peer = ""  # the CoIoT peer in effect (read at boot)
        self._tasks: set[asyncio.Task[None]] = set()
        self.coiot_muted = False
        self.pushes = 0
        self.online = False
        self._runner: web.AppRunner | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._serial = 0

    async def start(self) -> None:
        app = web.Application()
        app[GEN1_KEY] = self
        app.router.add_route("*", "/{path:.*}", _handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 80, reuse_address=True).start()
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _Coiot(self), local_addr=(self.host, 5683)
        )
        self.online = True
        self._peer = self.settings["coiot"].get("peer") or ""
        self.push_coiot()  # a device announces itself when it boots (or wakes)
        self.boots += 1
        async with self._booted:
            self._booted.notify_all()

    async def wait_booted(self, boots: int) -> None:
        """Returns once the device has started ``boots`` times (a reboot is done)."""
        async with self._booted:
            await self._booted.wait_for(lambda: self.boots >= boots)

    async def _reboot(self) -> None:
        await asyncio.sleep(0.01)  # the answer to /reboot leaves first
        await self._down()
        await asyncio.sleep(self.reboot_s)
        await self.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._down()

    async def _down(self) -> None:
        self.online = False
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def go_offline(self) -> None:
        await self.stop()

    async def come_online(self, host: str | None = None) -> None:
        """Back up, on the same address unless told another (a device that moved)."""
        self.host = host or self.host
        await self.start()

    async def wake(self) -> None:
        """A battery device wakes: it answers again and sends its readings."""
        if self.online:
            self.push_coiot()
        else:
            await self.start()

    async def doze(self) -> None:
        await self._down()

    def press(self, kind: str = "relay", index: int = 0, on: bool | None = None) -> None:
        """A person at the switch: the output changes on the device, CoIoT tells the peers."""
        state = self.status[f"{kind}s"][index]
        state["ison"] = (not state["ison"]) if on is None else on
        self.push_coiot()

    def push_coiot(self) -> None:
        """An unsolicited CoIoT update (code 0.30) to the peer, else the multicast group."""
        if self._udp is None or self.coiot_muted or not self.settings["coiot"]["enabled"]:
            return
        host, _, port = self._peer.rpartition(":")
        target = (host, int(port)) if host and port.isdigit() else COIOT_MULTICAST
        self._serial = (self._serial + 1) % 0x10000
        header = bytes([0x50, 30]) + struct.pack("!H", self._serial)  # NON, 0.30
        message = header + _coap_option(COAP_DEVICE_ID, self.coap_id().encode())
        body = json.dumps(cit_s(self.settings, self.status)).encode()
        try:
            self._udp.sendto(message + b"\xff" + body, target)
            self.pushes += 1
        except OSError:  # no multicast route here: the update is lost, as on a real LAN
            pass

    def coap_id(self) -> str:
        return f"{self.model.type}#{self.mac}#2"

    def coap_payload(self, path: str) -> dict[str, Any] | None:
        if path == "s":
            return cit_s(self.settings, self.status)
        return cit_d(self.model) if path == "d" else None

    def shelly(self) -> dict[str, Any]:
        info = {
            "type": self.model.type,
            "mac": self.mac,
            "auth": self.settings["login"]["enabled"],
            "fw": self.fw,
            "discoverable": True,
            "name": self.settings["name"],
            "num_outputs": self.model.relays + self.model.lights,
            "num_meters": self.model.meters,
        }
        if self.model.sleep_period_s:
            info["sleep_mode"] = True
        return info

    def authorized(self, header: str) -> bool:
        if not self.settings["login"]["enabled"]:
            return True
        expected = f"{self.settings['login']['username']}:{self.password}".encode()
        return header == "Basic " + base64.b64encode(expected).decode()

    def apply(self, path: str, query: dict[str, str]) -> dict[str, Any] | None:
        """A setter or action; the answer body, or None for an unknown path."""
        parts = path.strip("/").split("/")
        if parts == ["settings"]:
            if "name" in query:
                self.settings["name"] = query["name"]
                self._changed()
            return self.settings_view()
        if parts[0] == "settings" and len(parts) >= 2:
            return _setters.apply_setting(self, parts[1:], query)
        if parts[0] in ("relay", "light") and len(parts) == 2:
            answer = _setters.switch_output(self, parts[0], int(parts[1]), query)
            self.push_coiot()
            return answer
        if parts == ["ota"]:
            if query:  # a bare GET /ota only reports
                self.ota_requests.append(dict(query))
                if self.status["update"]["status"] != "updating":
                    self.status["update"]["status"] = "updating"
                    beta = query.get("beta") in ("true", "1")
                    self._spawn(self._install("beta_version" if beta else "new_version"))
            return dict(self.status["update"])
        if parts == ["reboot"]:
            self.reboots += 1
            self._spawn(self._reboot())
            return {"ok": True}
        return None

    @property
    def fw(self) -> str:
        return str(self.settings["fw"])

    async def _install(self, offer: str) -> None:
        """An OTA update: download for ``ota_s``, then reboot on the firmware offered."""
        update = self.status["update"]
        await asyncio.sleep(self.ota_s)
        update["status"] = "idle"
        target = str(update[offer])
        if self.ota_fails or target == self.fw:
            return
        self.settings["fw"] = self.settings["build_info"]["build_id"] = target
        for key in ("old_version", "new_version", "beta_version"):
            update[key] = target
        update["has_update"] = self.status["has_update"] = False
        self.reboots += 1
        await self._reboot()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def set_password(self, password: str | None) -> None:
        """Fault: the password changed (or was removed) behind Hearth's back."""
        self.settings["login"]["enabled"] = password is not None
        self.password = password

    def offer_update(self, stable: str | None = None, beta: str | None = None) -> None:
        """Firmware the device offers (``/status.update``, ``GET /ota``)."""
        update = self.status["update"]
        update["new_version"] = stable or update["old_version"]
        update["beta_version"] = beta or update["old_version"]
        update["has_update"] = self.status["has_update"] = bool(stable)

    def _changed(self) -> None:
        self.status["cfg_changed_cnt"] += 1

    def settings_view(self) -> dict[str, Any]:
        view: dict[str, Any] = copy.deepcopy(self.settings)
        view["wifi_ap"].pop("key", None)
        view["login"].pop("password", None)
        view["mqtt"].pop("pass", None)
        return view


async def _handle(request: web.Request) -> web.Response:
    device = request.app[GEN1_KEY]
    path = request.match_info["path"].strip("/")
    if path == "shelly":
        return web.json_response(device.shelly())
    if not device.authorized(request.headers.get("Authorization", "")):
        return web.Response(status=401, text="401 Unauthorized")
    query = dict(request.query)
    if request.method == "POST":
        query.update({k: str(v) for k, v in (await request.post()).items()})
    if path == "status":
        return web.json_response(device.status)
    if path == "cit/d":
        return web.json_response(cit_d(device.model))
    body = device.apply(path, query)
    if body is None:
        return web.Response(status=404, text="Not Found")
    return web.json_response(body)
