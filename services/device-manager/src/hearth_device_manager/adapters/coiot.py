"""The one CoIoT (CoAP, UDP) socket every Gen1 device shares: aioshelly's ``COAP``.

Always-on Gen1 devices subscribe through their ``BlockDevice``; sleeping ones (H&T) are
watched here by MAC, because their updates arrive while no ``BlockDevice`` is open. The socket
is opened on first use, so a fleet without Gen1 devices binds nothing.
"""

from __future__ import annotations

import asyncio
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
        """The shared, initialized ``COAP``; opened once even when asked concurrently."""
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._open())
        return await asyncio.shield(self._ready)

    async def _open(self) -> COAP:
        try:
            await self._context.initialize(self._port)
        except OSError as exc:  # taken: requests still work, pushes to that port are lost
            log.warning("CoIoT port unavailable, using another", port=self._port, reason=str(exc))
            await self._context.initialize(0)
        sock = self._context.sock
        self.port = int(sock.getsockname()[1]) if sock is not None else None
        return self._context

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
