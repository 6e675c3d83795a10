"""One simulated Gen1 Shelly: HTTP on ``host:80`` (basic auth) and CoIoT on ``host:5683``.

aioshelly insists on port 80 for Gen1, so each device gets its own loopback address
(127.0.0.N, root needed). Setters take query parameters and, like the devices, silently
ignore parameters they do not know; ``/settings`` never echoes Wi-Fi keys or passwords.
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
from hearth.demo.shelly.gen1_models import FW, Gen1Model, cit_d, cit_s, gen1_state

GEN1_KEY: web.AppKey[SimGen1Device] = web.AppKey("gen1")
COAP_DEVICE_ID = 3332


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
        self.settings, self.status = gen1_state(model, self.mac)
        self.password: str | None = None
        self.ota_requests: list[dict[str, str]] = []
        self.reboots = 0
        self._runner: web.AppRunner | None = None
        self._udp: asyncio.DatagramTransport | None = None

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

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def coap_id(self) -> str:
        return f"{self.model.type}#{self.mac}#2"

    def coap_payload(self, path: str) -> dict[str, Any] | None:
        if path == "s":
            return cit_s(self.settings, self.status)
        return cit_d(self.model) if path == "d" else None

    def shelly(self) -> dict[str, Any]:
        return {
            "type": self.model.type,
            "mac": self.mac,
            "auth": self.settings["login"]["enabled"],
            "fw": FW,
            "discoverable": True,
            "name": self.settings["name"],
            "num_outputs": self.model.relays + self.model.lights,
            "num_meters": self.model.meters,
        }

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
            return _setters.switch_output(self, parts[0], int(parts[1]), query)
        if parts == ["ota"]:
            self.ota_requests.append(dict(query))
            self.status["update"]["status"] = "updating" if query else "idle"
            return dict(self.status["update"])
        if parts == ["reboot"]:
            self.reboots += 1
            return {"ok": True}
        return None

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
