"""Talking to the running Hearth over NATS as its admin user (tokens, secrets, config)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from hearth.cli.output import fail

if TYPE_CHECKING:
    from hearth.stack.layout import DataDir


async def store_secrets(state: dict[str, Any], layout: DataDir, values: dict[str, bytes]) -> None:
    import nats

    from hearth_servicekit.secrets import SecretBox, SecretStore

    credentials = (
        {"user": "admin", "password": layout.bus_passwords()["admin"]}
        if state["embedded_nats"]
        else {}
    )
    nc = await nats.connect(state["nats_url"], connect_timeout=5, **credentials)
    try:
        store = SecretStore(nc.jetstream(), SecretBox(layout.secret_key()))
        for name, value in values.items():
            await store.put(name, value)
    finally:
        await nc.close()


def admin_request(subject: str, body: dict[str, Any], timeout: float = 15) -> dict[str, Any]:
    import nats

    from hearth.stack.layout import DataDir, data_dir

    layout = DataDir(data_dir())
    state = layout.read_state()
    if state is None:
        fail("Hearth is not running here; start it with `hearth up`", code=1)
        raise AssertionError  # unreachable: fail exits
    credentials = (
        {"user": "admin", "password": layout.bus_passwords()["admin"]}
        if state["embedded_nats"]
        else {}
    )

    async def send() -> dict[str, Any]:
        nc = await nats.connect(state["nats_url"], connect_timeout=5, **credentials)
        try:
            reply = await nc.request(subject, json.dumps(body).encode(), timeout=timeout)
        finally:
            await nc.close()
        result: dict[str, Any] = json.loads(reply.data)
        return result

    try:
        return asyncio.run(send())
    except Exception as exc:
        fail(f"no answer on {subject}: {exc or type(exc).__name__}", code=1)
        raise AssertionError from exc
