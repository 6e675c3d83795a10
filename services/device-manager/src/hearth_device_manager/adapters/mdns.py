"""mDNS discovery: browse ``_shelly._tcp.local.`` and ``_http._tcp.local.`` (names starting
``shelly``, as Home Assistant matches them) with zeroconf's async API; every service found
is asked ``GET /shelly`` and handed on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from hearth_device_manager.adapters.ports import Prober
from hearth_device_manager.domain.device import Found

SHELLY_TYPES = ("_shelly._tcp.local.", "_http._tcp.local.")
RESOLVE_TIMEOUT_MS = 3000


def is_shelly(service_type: str, name: str) -> bool:
    return service_type == SHELLY_TYPES[0] or name.lower().startswith("shelly")


class MdnsBrowser:
    def __init__(
        self,
        prober: Prober,
        on_found: Callable[[Found], Awaitable[object]],
        zeroconf: AsyncZeroconf | None = None,
        *,
        own: bool = False,
    ) -> None:
        """``own``: close ``zeroconf`` on stop (always when this browser made it)."""
        self._prober = prober
        self._on_found = on_found
        self._own = own or zeroconf is None
        self._zc = zeroconf
        self._browser: AsyncServiceBrowser | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._zc is None:
            self._zc = AsyncZeroconf()
        self._browser = AsyncServiceBrowser(
            self._zc.zeroconf, list(SHELLY_TYPES), handlers=[self._on_change]
        )

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed or not is_shelly(service_type, name):
            return
        task = asyncio.get_running_loop().create_task(self._resolve(service_type, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, service_type: str, name: str) -> None:
        assert self._zc is not None
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self._zc.zeroconf, RESOLVE_TIMEOUT_MS):
            return
        port = info.port or 80
        for host in info.parsed_addresses():
            found = await self._prober.probe(host, port)
            if found is not None:
                await self._on_found(found)
                return

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._own and self._zc is not None:
            await self._zc.async_close()
