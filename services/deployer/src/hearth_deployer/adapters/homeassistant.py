"""Home Assistant's REST API, as the deployer uses it: check, restart or reload, health.

Errors become ``HomeAssistantError`` with a message a person can act on; the token is
never logged or echoed.
"""

from __future__ import annotations

import asyncio
import errno
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

#: Told (attempt number, last answer) while waiting for Home Assistant to run.
Progress = Callable[[int, str], Awaitable[None]]

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
            raise Unreachable(
                f"Home Assistant at {self._base} is not reachable: {type(exc).__name__}: {exc}",
                answer=_short_answer(exc, self._timeout.total),
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
        return await self.probe() is None

    async def probe(self) -> str | None:
        """None when ``GET /api/config`` reports ``state: RUNNING``; else its answer, short
        ("connection refused", "HTTP 200 with state NOT_RUNNING", "HTTP 502")."""
        try:
            status, body = await self._request("GET", "/api/config")
        except Unreachable as exc:
            return exc.answer
        if status == 401:
            raise self._refused(status, body, "health check")
        if status != 200:
            return f"HTTP {status}"
        state = body.get("state") if isinstance(body, dict) else None
        return None if state == "RUNNING" else f"HTTP 200 with state {state}"

    async def wait_running(
        self,
        timeout_s: float,
        *,
        after_restart: bool,
        settle_s: float = 5.0,
        interval_s: float = 0.5,
        progress_every_s: float = 10.0,
        on_progress: Progress | None = None,
    ) -> float:
        """Wait until Home Assistant runs; returns seconds waited.

        After a restart the old instance may still answer for a moment: wait to see it go
        down (up to ``settle_s``) before trusting a RUNNING answer. Every
        ``progress_every_s`` while waiting, ``on_progress(attempt, last answer)`` is told.
        """
        started = time.monotonic()
        if after_restart:
            settle_until = started + settle_s
            while time.monotonic() < settle_until:
                if not await self.is_running():
                    break
                await asyncio.sleep(interval_s)
        attempt, answer, told = 0, "none yet", started
        while time.monotonic() - started < timeout_s:
            attempt += 1
            found = await self.probe()
            if found is None:
                return time.monotonic() - started
            answer = found
            if on_progress is not None and time.monotonic() - told >= progress_every_s:
                told = time.monotonic()
                await on_progress(attempt, answer)
            await asyncio.sleep(interval_s)
        raise HomeAssistantError(
            f"Home Assistant at {self._base} did not report RUNNING within {timeout_s:.0f}s "
            f"({attempt} attempts of GET /api/config); last answer: {answer}"
        )


class Unreachable(HomeAssistantError):
    """No HTTP answer at all; ``answer`` says what happened instead, in a few words."""

    def __init__(self, message: str, *, answer: str) -> None:
        super().__init__(message)
        self.answer = answer


def _short_answer(exc: BaseException, timeout_s: float | None) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
        if isinstance(cause, ConnectionRefusedError) or cause.errno == errno.ECONNREFUSED:
            return "connection refused"
        return f"cannot connect: {cause.strerror or cause}"
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return f"no answer within {timeout_s or 0:.0f}s"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection closed without an answer"
    return f"{type(exc).__name__}: {exc}"
