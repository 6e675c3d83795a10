"""Talking to Hearth's bus as its administrator: requests, and secrets with or without Hearth.

``hearth secret set``, ``list`` and ``rm`` must work before the first ``hearth up`` (a new
user stores the SSH key and the Home Assistant token first, then starts Hearth, which
deploys at once). When nothing runs on the data directory, the embedded NATS is started
alone for the write, on a free port, and stopped again: a secret lands in the same
JetStream store ``hearth up`` will use.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import nats
from nats.aio.client import Client

from hearth.embedded.nats import EmbeddedNats, NatsUser
from hearth.embedded.process import EmbeddedServerError, free_port
from hearth.stack.layout import DataDir, nats_servers
from hearth.stack.up import StackError, UpOptions, clean_up_after_a_crash, running_state
from hearth_events.jetstream import SECRETS_BUCKET, ensure

T = TypeVar("T")


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
        nats_servers(state["nats_url"]), connect_timeout=5, **admin_credentials(state, layout)
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


SecretsAction = Callable[[Any], Awaitable[T]]  # given the admin's JetStreamContext


async def on_secrets(state: dict[str, Any], layout: DataDir, action: SecretsAction[T]) -> T:
    """Run ``action`` on the secrets bucket of the NATS that ``state`` names, as the admin."""
    nc = await nats.connect(
        nats_servers(state["nats_url"]), connect_timeout=5, **admin_credentials(state, layout)
    )
    try:
        return await action(nc.jetstream())
    finally:
        await nc.close()


async def store_secrets(
    state: dict[str, Any], layout: DataDir, values: dict[tuple[str, str], bytes]
) -> None:
    """Store ``values`` by (scope, name) with the installation key's scope keys."""
    from hearth.stack.secrets import put_scoped

    key = layout.secret_key()
    await on_secrets(state, layout, lambda js: put_scoped(js, key, values))


def on_secrets_anyhow(layout: DataDir, action: SecretsAction[T]) -> tuple[T, str]:
    """Run ``action`` whether or not Hearth runs; also returns where, for the user."""
    state = running_state(layout)
    if state is not None:
        return asyncio.run(on_secrets(state, layout, action)), "in the running Hearth"
    external = os.environ.get("HEARTH_NATS_URL")
    if external:
        found = asyncio.run(on_secrets({"nats_url": external}, layout, action))
        return found, f"in NATS at {external}"
    clean_up_after_a_crash(UpOptions(data_dir=layout.root))
    with _alone(layout) as url:
        found = asyncio.run(_on_alone(url, layout, action))
    return found, f"in {layout.root} (Hearth is not running; it will use them when it starts)"


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


async def _on_alone(url: str, layout: DataDir, action: SecretsAction[T]) -> T:
    async with _admin(url, layout) as nc:
        await ensure(nc.jetstream(), buckets=(SECRETS_BUCKET,))
        return await action(nc.jetstream())


@contextlib.asynccontextmanager
async def _admin(url: str, layout: DataDir) -> AsyncIterator[Client]:
    nc = await nats.connect(
        nats_servers(url),
        connect_timeout=5,
        user="admin",
        password=layout.bus_passwords()["admin"],
        inbox_prefix=ADMIN_INBOX,
    )
    try:
        yield nc
    finally:
        await nc.close()
