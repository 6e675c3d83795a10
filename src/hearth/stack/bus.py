"""Talking to Hearth's bus as its administrator: requests, and secrets with or without Hearth.

``hearth secret set`` must work before the first ``hearth up`` (a new user stores the SSH
key and the Home Assistant token first, then starts Hearth, which deploys at once). When
nothing runs on the data directory, the embedded NATS is started alone for the write, on a
free port, and stopped again: the secret lands in the same JetStream store ``hearth up``
will use.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import nats
from nats.aio.client import Client

from hearth.embedded.nats import EmbeddedNats, NatsUser
from hearth.embedded.process import EmbeddedServerError, free_port
from hearth.stack.layout import DataDir
from hearth.stack.up import StackError, UpOptions, alive, clean_up_after_a_crash
from hearth_events.jetstream import SECRETS_BUCKET, ensure


class BusError(Exception):
    """The bus did not answer; the message says what was tried."""


ADMIN_INBOX = "_INBOX_admin"  # replies to the CLI (tokens!) never travel on `_INBOX.>`


def admin_credentials(state: dict[str, Any], layout: DataDir) -> dict[str, str]:
    if not state.get("embedded_nats"):
        return {"inbox_prefix": ADMIN_INBOX}
    return {
        "user": "admin",
        "password": layout.bus_passwords()["admin"],
        "inbox_prefix": ADMIN_INBOX,
    }


async def request(
    state: dict[str, Any], layout: DataDir, subject: str, body: dict[str, Any], timeout: float
) -> dict[str, Any]:
    nc = await nats.connect(
        state["nats_url"], connect_timeout=5, **admin_credentials(state, layout)
    )
    try:
        reply = await nc.request(subject, json.dumps(body).encode(), timeout=timeout)
    finally:
        await nc.close()
    result: dict[str, Any] = json.loads(reply.data)
    return result


def request_sync(
    state: dict[str, Any], layout: DataDir, subject: str, body: dict[str, Any], timeout: float = 15
) -> dict[str, Any]:
    try:
        return asyncio.run(request(state, layout, subject, body, timeout))
    except Exception as exc:
        raise BusError(f"no answer on {subject}: {exc or type(exc).__name__}") from exc


async def put_secrets(nc: Client, layout: DataDir, values: dict[str, bytes]) -> None:
    from hearth_servicekit.secrets import SecretBox, SecretStore

    store = SecretStore(nc.jetstream(), SecretBox(layout.secret_key()))
    for name, value in values.items():
        await store.put(name, value)


async def store_secrets(state: dict[str, Any], layout: DataDir, values: dict[str, bytes]) -> None:
    nc = await nats.connect(
        state["nats_url"], connect_timeout=5, **admin_credentials(state, layout)
    )
    try:
        await put_secrets(nc, layout, values)
    finally:
        await nc.close()


def running_state(layout: DataDir) -> dict[str, Any] | None:
    """The state of a ``hearth up`` that is alive on this data dir, else None."""
    state = layout.read_state()
    if state is None or not alive(state.get("pid")):
        return None
    return state


def store_secrets_anyhow(layout: DataDir, values: dict[str, bytes]) -> str:
    """Store ``values`` whether or not Hearth runs; returns where they went, for the user."""
    state = running_state(layout)
    if state is not None:
        asyncio.run(store_secrets(state, layout, values))
        return "in the running Hearth"
    external = os.environ.get("HEARTH_NATS_URL")
    if external:
        asyncio.run(store_secrets({"nats_url": external}, layout, values))
        return f"in NATS at {external}"
    clean_up_after_a_crash(UpOptions(data_dir=layout.root))
    with _alone(layout) as url:
        asyncio.run(_store_on(url, layout, values))
    return f"in {layout.root} (Hearth is not running; it will use them when it starts)"


@contextlib.contextmanager
def _alone(layout: DataDir) -> Any:
    password = layout.bus_passwords()["admin"]
    server = EmbeddedNats(
        layout.nats_dir,
        port=free_port(),
        users=[NatsUser("admin", password, (">",), (">",))],
    )
    try:
        server.start()
    except EmbeddedServerError as exc:
        raise StackError(str(exc)) from None
    try:
        yield server.url
    finally:
        server.stop()


async def _store_on(url: str, layout: DataDir, values: dict[str, bytes]) -> None:
    async with _admin(url, layout) as nc:
        await ensure(nc.jetstream(), buckets=(SECRETS_BUCKET,))
        await put_secrets(nc, layout, values)


@contextlib.asynccontextmanager
async def _admin(url: str, layout: DataDir) -> AsyncIterator[Client]:
    nc = await nats.connect(
        url,
        connect_timeout=5,
        user="admin",
        password=layout.bus_passwords()["admin"],
        inbox_prefix=ADMIN_INBOX,
    )
    try:
        yield nc
    finally:
        await nc.close()
