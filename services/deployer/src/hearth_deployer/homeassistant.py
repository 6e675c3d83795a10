"""Home Assistant's REST API, as the deployer uses it: check, restart or reload, health.

Errors become ``HomeAssistantError`` with a message a person can act on; the token is
never logged or echoed.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

RELOADABLE_DOMAINS = ("automation", "script", "scene", "group", "input_boolean", "template")


class HomeAssistantError(Exception):
    """Home Assistant could not be reached or refused; the message says which and why."""


@dataclass(frozen=True)
class ConfigCheck:
    valid: bool
    errors: str | None
    warnings: str | None


class HomeAssistantClient:
    def __init__(self, base_url: str, token: str, *, timeout_s: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def __repr__(self) -> str:
        return f"HomeAssistantClient({self._base!r}, token=***)"

    async def _request(self, method: str, path: str) -> tuple[int, Any]:
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.request(method, self._base + path, headers=self._headers) as reply,
            ):
                text = await reply.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise HomeAssistantError(
                f"Home Assistant at {self._base} is not reachable: {type(exc).__name__}: {exc}"
            ) from None
        try:
            return reply.status, (json.loads(text) if text else None)
        except ValueError:
            return reply.status, text.strip()  # some errors come as plain text

    def _refused(self, status: int, body: Any, action: str) -> HomeAssistantError:
        if status == 401:
            return HomeAssistantError(
                f"Home Assistant at {self._base} rejected the access token; create a "
                "long-lived token for an admin user and store it as the target's token secret"
            )
        message = body.get("message") if isinstance(body, dict) else body
        return HomeAssistantError(f"{action} failed with HTTP {status}: {message}")

    async def check_config(self) -> ConfigCheck:
        status, body = await self._request("POST", "/api/config/core/check_config")
        if status != 200 or not isinstance(body, dict) or "result" not in body:
            raise self._refused(status, body, "check_config")
        return ConfigCheck(body["result"] == "valid", body.get("errors"), body.get("warnings"))

    async def restart(self) -> None:
        try:
            status, body = await self._request("POST", "/api/services/homeassistant/restart")
        except HomeAssistantError:
            return  # Home Assistant may drop the connection as it goes down: restart began
        if status not in (200, 502, 503, 504):
            raise self._refused(status, body, "restart")

    async def reload(self, domain: str) -> None:
        status, body = await self._request("POST", f"/api/services/{domain}/reload")
        if status != 200:
            raise self._refused(status, body, f"reload of {domain}")

    async def is_running(self) -> bool:
        """True when the API answers and the core reports RUNNING."""
        try:
            status, body = await self._request("GET", "/api/config")
        except HomeAssistantError:
            return False
        if status == 401:
            raise self._refused(status, body, "health check")
        return status == 200 and isinstance(body, dict) and body.get("state") == "RUNNING"

    async def wait_running(
        self,
        timeout_s: float,
        *,
        after_restart: bool,
        settle_s: float = 5.0,
        interval_s: float = 0.5,
    ) -> float:
        """Wait until Home Assistant runs; returns seconds waited.

        After a restart the old instance may still answer for a moment: wait to see it go
        down (up to ``settle_s``) before trusting a RUNNING answer.
        """
        started = time.monotonic()
        if after_restart:
            settle_until = started + settle_s
            while time.monotonic() < settle_until:
                if not await self.is_running():
                    break
                await asyncio.sleep(interval_s)
        while time.monotonic() - started < timeout_s:
            if await self.is_running():
                return time.monotonic() - started
            await asyncio.sleep(interval_s)
        raise HomeAssistantError(
            f"Home Assistant at {self._base} did not report RUNNING within {timeout_s:.0f}s"
        )
