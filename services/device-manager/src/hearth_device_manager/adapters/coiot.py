"""The one CoIoT (CoAP, UDP) socket every Gen1 device shares: aioshelly's ``COAP``.

Always-on Gen1 devices subscribe through their ``BlockDevice``; sleeping ones (H&T) are
watched here by MAC, because their updates arrive while no ``BlockDevice`` is open. The socket
is opened on first use, so a fleet without Gen1 devices binds nothing.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

from aioshelly.block_device import COAP
from aioshelly.block_device.coap import COAP_OPTION_DEVICE_ID, CoapMessage

from hearth_servicekit import get_logger

log = get_logger("hearth.device_manager")


class Coiot:
    def __init__(self, port: int = 5683) -> None:
        self._port = port
        self._context = COAP(self._on_message)
        self._ready: asyncio.Task[COAP] | None = None
        self._watchers: dict[str, Callable[[CoapMessage], None]] = {}
        #: The UDP port actually bound (another when ``port`` was taken).
        self.port: int | None = None

    async def context(self) -> COAP:
        """The shared, initialized ``COAP``; opened once even when asked concurrently. Raises
        ``OSError`` when no UDP socket can be had (asked again next time)."""
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._open())
        try:
            return await asyncio.shield(self._ready)
        except OSError:
            self._ready = None
            raise

    async def _open(self) -> COAP:
        try:
            await self._context.initialize(self._port)
        except OSError as exc:  # taken, or no multicast here: a plain socket still gets replies
            log.warning("CoIoT socket degraded", port=self._port, reason=str(exc))
            await self._plain_socket()
        sock = self._context.sock
        self.port = int(sock.getsockname()[1]) if sock is not None else None
        return self._context

    async def _plain_socket(self) -> None:
        """Without the multicast group: on ``port`` if free, else any port (then only replies
        to our requests arrive, and the polling fallback carries the status)."""
        for port in dict.fromkeys((self._port, 0)):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            try:
                sock.bind(("", port))
            except OSError:
                sock.close()
                if port == 0:
                    raise
                continue
            sock.setblocking(False)
            self._context.sock = sock
            loop = asyncio.get_running_loop()
            await loop.create_datagram_endpoint(lambda: self._context, sock=sock)
            return

    def watch(self, mac: str, callback: Callable[[CoapMessage], None]) -> Callable[[], None]:
        """Every CoIoT message from the device with this MAC; returns the unsubscribe."""
        key = mac.upper()[-6:]
        self._watchers[key] = callback
        return lambda: self._watchers.pop(key, None) and None

    def _on_message(self, message: CoapMessage) -> None:
        raw: Any = message.options.get(COAP_OPTION_DEVICE_ID)
        try:
            key = bytes(raw).decode().split("#")[1][-6:].upper()
        except (TypeError, UnicodeDecodeError, IndexError):
            return
        callback = self._watchers.get(key)
        if callback is not None:
            callback(message)

    def close(self) -> None:
        self._context.close()
