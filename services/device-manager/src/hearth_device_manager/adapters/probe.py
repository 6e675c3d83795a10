"""``GET /shelly``: what answers at an address, through aioshelly's ``get_info``."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aioshelly.common import get_info
from aioshelly.exceptions import ShellyError

from hearth_device_manager.domain.device import Found, normal_mac


def found_from_info(info: dict[str, Any], host: str, port: int) -> Found | None:
    """A ``/shelly`` answer as a discovered device; None when it is not a Shelly."""
    try:
        mac = normal_mac(str(info["mac"]))
    except (KeyError, ValueError):
        return None
    generation = int(info.get("gen") or 1)
    if generation >= 2:
        device_id = str(info.get("id") or f"shelly-{mac.lower()}")
        model = str(info.get("model") or "")
        firmware = info.get("fw_id") or info.get("ver")
        auth = bool(info.get("auth_en"))
    else:
        model = str(info.get("type") or "")
        device_id = f"{model.lower() or 'shelly'}-{mac.lower()}"
        firmware = info.get("fw")
        auth = bool(info.get("auth"))
    return Found(
        device_id=device_id,
        mac=mac,
        model=model,
        generation=generation,
        host=host,
        port=port,
        name=info.get("name"),
        firmware=str(firmware) if firmware else None,
        auth=auth,
        sleeping=bool(info.get("sleep_mode") or info.get("sleeping")),
    )


class HttpProber:
    """Asks one address with a short timeout; anything but a Shelly's answer is None."""

    def __init__(self, session: aiohttp.ClientSession, timeout_s: float = 1.0) -> None:
        self._session = session
        self._timeout_s = timeout_s

    async def probe(self, host: str, port: int) -> Found | None:
        try:
            async with asyncio.timeout(self._timeout_s):
                info = await get_info(self._session, host, port=port)
        except (ShellyError, OSError, TimeoutError, aiohttp.ClientError, ValueError):
            return None
        return found_from_info(info, host, port)
