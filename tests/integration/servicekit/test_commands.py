"""A command service answers from the moment ``serve_command`` returns."""

from __future__ import annotations

from typing import Any

import nats
import pytest
from pydantic import BaseModel

from hearth_servicekit.commands import serve_command

pytestmark = pytest.mark.integration


class Echo(BaseModel):
    text: str


async def test_a_request_sent_right_after_serve_command_finds_the_responder(
    nats_url: str,
) -> None:
    async def echo(request: Echo) -> dict[str, Any]:
        return {"text": request.text}

    server, client = await nats.connect(nats_url), await nats.connect(nats_url)
    try:
        # The race was one of scheduling order on a fresh subscription: try it many times,
        # each on a subject no one has subscribed to before.
        for attempt in range(300):
            subject = f"hearth.cmd.test.Echo{attempt}"
            subscription = await serve_command(server, subject, Echo, echo, queue="test")
            reply = await client.request(subject, b'{"text": "hi"}', timeout=5)
            assert reply.data == b'{"ok": true, "text": "hi"}'
            await subscription.unsubscribe()
    finally:
        await server.close()
        await client.close()
