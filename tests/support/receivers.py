"""Real protocol peers for notifications: an HTTP receiver and an SMTP server."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

from hearth.embedded.process import free_port

# aiosmtpd logs each connection at INFO from its own thread, also after pytest has closed
# the captured stream ("--- Logging error ---" in the output); its warnings still show.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass
class HttpReceiver:
    """Records what Apprise's json:// posts; can fail the first N requests or all of them."""

    fail_first: int = 0
    always_fail: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.always_fail or self.attempts <= self.fail_first:
            return web.Response(status=503, text="try later")
        self.received.append(json.loads(await request.read()))
        return web.json_response({"ok": True})

    async def wait_for(self, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                await asyncio.sleep(0.05)
        return self.received


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            message_from_bytes(envelope.content, _class=EmailMessage, policy=policy.default)
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = _Inbox()
        self.port = free_port()
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    async def wait_for(self, count: int, timeout: float = 20) -> list[EmailMessage]:
        async with asyncio.timeout(timeout):
            while len(self.inbox.messages) < count:
                await asyncio.sleep(0.05)
        return self.inbox.messages
