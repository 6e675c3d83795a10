"""The floor under webhook ingest: a bare aiohttp handler that reads the body, publishes it
to JetStream and answers 202 after the ack, with no signature check, no parsing, no event
envelope, no logging and no metrics. No webhook gateway on the same server and client can
beat it; how close the gateway gets shows what Hearth's own work costs.

``python -m bench.ingest_floor NATS_URL PORT`` prints ``ready`` once it listens (with
SO_REUSEPORT, so several may share PORT as the gateway's workers do).
"""

from __future__ import annotations

import asyncio
import sys

import nats
from aiohttp import web

from hearth_events.jetstream import EVENTS_STREAM

MAX_BODY = 25 * 1024 * 1024


async def serve(url: str, port: int) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        delivery = request.headers["X-GitHub-Delivery"]
        ack = await js.publish(
            "hearth.evt.bench.Floor.f",  # a subject no gateway follows
            body,
            stream=EVENTS_STREAM,
            headers={"Nats-Msg-Id": f"floor-{delivery}"},
        )
        return web.json_response({"ok": True, "duplicate": ack.duplicate}, status=202)

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/webhooks/github", webhook)
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
