"""A real nats-server with Hearth's generated users, declared by the admin, and clients
that record the server's permission refusals so a test can wait for the exact one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.process import free_port
from hearth_events.jetstream import BUCKETS, SECRET_SCOPES, SECRETS_BUCKET, declare_all
from tests.support.bus_users import password, server_users

SEEDED_KEY = "seeded"
SECRET_VALUE = b"canary-secret-ciphertext"


@pytest.fixture(scope="module")
def bus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedNats(
        Path(tmp_path_factory.mktemp("bus")), port=free_port(), users=server_users()
    )
    server.start()
    yield server.url
    server.stop()


@dataclass
class Session:
    """One user's connection; ``refusals`` are the server's permission errors, in order."""

    user: str
    nc: Any
    refusals: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def js(self) -> Any:
        return self.nc.jetstream(timeout=5)

    async def settle(self) -> None:
        """Let every refusal of what was sent so far arrive: the server answers a PING only
        after the errors of everything before it, and the error callback runs as a task."""
        await self.nc.flush()
        for _ in range(5):
            await asyncio.sleep(0)

    async def refused(self, what: str, subject: str) -> None:
        """Wait until the server refuses ``what`` ("Publish"/"Subscription") to ``subject``."""
        needle = f'permissions violation for {what.lower()} to "{subject.lower()}"'
        while not any(needle in r.lower() for r in self.refusals):
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 10)

    async def refuses_publish(self, subject: str, payload: bytes = b"{}") -> None:
        await self.nc.publish(subject, payload, reply=self.nc.new_inbox())
        await self.refused("Publish", subject)

    async def refuses_subscription(self, subject: str) -> None:
        await self.nc.subscribe(subject)
        await self.refused("Subscription", subject)


async def connect(url: str, user: str, inbox: str | None = None) -> Session:
    session: Session

    async def on_error(exc: Exception) -> None:
        session.refusals.append(str(exc))
        session.changed.set()

    nc = await nats.connect(
        url,
        user=user,
        password=password(user),
        inbox_prefix=(inbox or f"_INBOX_{user}").encode(),
        error_cb=on_error,
        allow_reconnect=False,
    )
    session = Session(user, nc)
    return session


@pytest.fixture(scope="module")
async def admin(bus_url: str) -> AsyncIterator[Session]:
    session = await connect(bus_url, "admin")
    js = session.js
    await declare_all(js)
    for bucket in BUCKETS:
        kv = await js.key_value(bucket)
        await kv.put(SEEDED_KEY, SECRET_VALUE if bucket == SECRETS_BUCKET else b"seed")
    secrets = await js.key_value(SECRETS_BUCKET)
    for scope in SECRET_SCOPES:
        await secrets.put(f"{scope}.{SEEDED_KEY}", SECRET_VALUE)
    yield session
    await session.nc.close()
