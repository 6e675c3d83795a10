"""The HTTP and WebSocket face of a simulated Gen2+ device (aiohttp).

``GET /shelly``; JSON-RPC over the WebSocket ``/rpc`` (what aioshelly uses), ``POST /rpc``
and ``GET /rpc/<Method>?k=v``. Notifications go only to WebSocket peers that sent a ``src``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections import Counter
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from hearth.demo.shelly import methods
from hearth.demo.shelly.auth import WS_HA2, DigestGuard, parse_digest_header, sha256_hex


class ServedDevice(methods.RpcTarget, Protocol):
    """What the server needs of a simulated device (``device.ServedDevice`` is one)."""

    guard: DigestGuard
    slow_s: float
    peers: dict[Any, str]
    calls: Counter[str]  # answered RPC calls by method (tests measure what a client asks)


OPEN_METHODS = {"Shelly.GetDeviceInfo"}
DEVICE_KEY: web.AppKey[ServedDevice] = web.AppKey("device")


async def serve(device: ServedDevice, host: str, port: int) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app[DEVICE_KEY] = device
    app.router.add_get("/shelly", _shelly)
    app.router.add_get("/rpc", _rpc_get_or_ws)
    app.router.add_post("/rpc", _rpc_post)
    app.router.add_get("/rpc/{method}", _rpc_get)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, reuse_port=True)
    await site.start()
    return runner, _bound_port(runner, port)


def hold_port(host: str, port: int) -> socket.socket:
    """A bound socket that never listens: it keeps ``port`` while the device is down (a
    reboot, an update, a fault), so no outgoing connection and no other server takes it
    meanwhile, as one did on a loaded machine (the device could not come back). Connections
    are still refused, as by a device that is off; the server shares the port with it
    (``SO_REUSEPORT``)."""
    holder = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        holder.bind((host, port))
    except OSError:
        holder.close()
        raise
    return holder


def _bound_port(runner: web.AppRunner, fallback: int) -> int:
    for address in runner.addresses:
        return int(address[1])
    return fallback


async def send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionError):
            await ws.send_str(json.dumps(frame))


def _run(device: ServedDevice, method: str, params: Any) -> dict[str, Any]:
    device.calls[method] += 1
    try:
        return {
            "result": methods.call(device, method, params if isinstance(params, dict) else None)
        }
    except methods.RpcError as err:
        return {"error": {"code": err.code, "message": err.message}}


async def _shelly(request: web.Request) -> web.Response:
    device = request.app[DEVICE_KEY]
    await asyncio.sleep(device.slow_s)
    return web.json_response(device.device_info())


async def _rpc_get_or_ws(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return web.json_response(
            {"code": 404, "message": "use /rpc/<Method> or a WebSocket"}, status=404
        )
    device = request.app[DEVICE_KEY]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            break
        try:
            frame = json.loads(msg.data)
        except ValueError:
            continue
        if not isinstance(frame, dict):
            continue
        if isinstance(frame.get("src"), str):
            device.peers[ws] = frame["src"]
        asyncio.get_running_loop().create_task(_answer_ws(device, ws, frame))
    device.peers.pop(ws, None)
    return ws


async def _answer_ws(
    device: ServedDevice, ws: web.WebSocketResponse, frame: dict[str, Any]
) -> None:
    await asyncio.sleep(device.slow_s)
    method = str(frame.get("method", ""))
    auth = frame.get("auth")
    if (
        device.guard.enabled
        and method not in OPEN_METHODS
        and not (isinstance(auth, dict) and device.guard.check(auth, WS_HA2))
    ):
        body: dict[str, Any] = {"error": {"code": 401, "message": device.guard.ws_challenge()}}
    else:
        body = _run(device, method, frame.get("params"))
    if "id" in frame:
        await send(
            ws, {"id": frame["id"], "src": device.device_id, "dst": frame.get("src"), **body}
        )


def _http_allowed(request: web.Request, method: str) -> bool:
    device = request.app[DEVICE_KEY]
    if not device.guard.enabled or method in OPEN_METHODS:
        return True
    fields = parse_digest_header(request.headers.get("Authorization", ""))
    ha2 = sha256_hex(f"{request.method}:{fields.get('uri', '')}")
    return bool(fields) and device.guard.check(fields, ha2)


def _unauthorized(request: web.Request) -> web.Response:
    challenge = request.app[DEVICE_KEY].guard.http_challenge()
    return web.Response(
        status=401, headers={"WWW-Authenticate": challenge}, text="401 Unauthorized"
    )


async def _rpc_post(request: web.Request) -> web.Response:
    device = request.app[DEVICE_KEY]
    await asyncio.sleep(device.slow_s)
    try:
        frame = await request.json()
    except ValueError:
        return web.json_response({"error": {"code": -32700, "message": "not JSON"}}, status=400)
    if not isinstance(frame, dict):
        return web.json_response(
            {"error": {"code": -32600, "message": "a request is a JSON object"}}, status=400
        )
    method = str(frame.get("method", ""))
    if not _http_allowed(request, method):
        return _unauthorized(request)
    body = _run(device, method, frame.get("params"))
    return web.json_response({"id": frame.get("id"), "src": device.device_id, **body})


async def _rpc_get(request: web.Request) -> web.Response:
    device = request.app[DEVICE_KEY]
    await asyncio.sleep(device.slow_s)
    method = request.match_info["method"]
    if not _http_allowed(request, method):
        return _unauthorized(request)
    params = {k: _query_value(v) for k, v in request.query.items()}
    body = _run(device, method, params)
    if "error" in body:
        return web.json_response(body["error"], status=500 if body["error"]["code"] != 404 else 404)
    return web.json_response(body["result"])


def _query_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
