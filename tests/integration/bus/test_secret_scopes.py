"""Secrets scoped per service, against a real nats-server with the generated users: each
service reads and decrypts its own scope's secrets, and neither its NATS user nor its key
gets it another scope's (the webhook gateway, facing the internet, never gets an SSH key)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hearth_events.jetstream import SECRET_SCOPES, SECRETS_BUCKET
from hearth_servicekit.secrets import SecretBox, SecretError, SecretStore, scope_key
from tests.integration.bus.conftest import Session, connect

pytestmark = pytest.mark.asyncio

INSTALLATION_KEY = "q7x0eT6ZPWgGx7jM9V1Rk0qPHAhF5r8g0w3Yb2Tn4sE="
SSH_KEY = b"-----BEGIN OPENSSH PRIVATE KEY----- canary"


def box(scope: str) -> SecretBox:
    """What the service of ``scope`` receives: its scope key, not the installation key."""
    return SecretBox(scope_key(INSTALLATION_KEY, scope))


@pytest.fixture(scope="module")
async def stored(admin: Session) -> dict[str, bytes]:
    values = {scope: f"{scope}-secret-canary".encode() for scope in SECRET_SCOPES}
    for scope, value in values.items():
        await SecretStore(admin.js, box(scope)).put("own", value)
    await SecretStore(admin.js, box("deployer")).put("ssh-key", SSH_KEY)
    return values


@pytest.fixture
async def webhook_gw(bus_url: str) -> AsyncIterator[Session]:
    session = await connect(bus_url, "webhook-gw")
    yield session
    await session.nc.close()


@pytest.mark.parametrize("scope", SECRET_SCOPES)
async def test_each_service_reads_its_own_scope(
    bus_url: str, stored: dict[str, bytes], scope: str
) -> None:
    session = await connect(bus_url, scope)
    try:
        assert await SecretStore(session.js, box(scope)).get("own") == stored[scope]
        assert session.refusals == []
    finally:
        await session.nc.close()


async def test_the_webhook_gateways_user_cannot_fetch_a_deployer_secret(
    webhook_gw: Session, stored: dict[str, bytes]
) -> None:
    subject = f"$JS.API.DIRECT.GET.KV_{SECRETS_BUCKET}.$KV.{SECRETS_BUCKET}.deployer.ssh-key"
    # Even holding the deployer's key, the gateway's NATS user is refused the read...
    store = SecretStore(webhook_gw.nc.jetstream(timeout=2), box("deployer"))
    fetch = asyncio.create_task(store.get("ssh-key"))
    await webhook_gw.refused("Publish", subject)
    with pytest.raises(Exception) as raised:
        await fetch
    assert not isinstance(raised.value, SecretError)
    # ...and the stream-wide get, whose subject is in the body, is refused outright.
    await webhook_gw.refuses_publish(f"$JS.API.STREAM.MSG.GET.KV_{SECRETS_BUCKET}")


async def test_the_webhook_gateways_key_cannot_decrypt_a_deployer_ciphertext(
    admin: Session, stored: dict[str, bytes]
) -> None:
    kv = await admin.js.key_value(SECRETS_BUCKET)
    ciphertext = (await kv.get("deployer.ssh-key")).value
    assert SSH_KEY not in ciphertext
    with pytest.raises(SecretError, match="cannot be decrypted with the webhook-gw key"):
        box("webhook-gw").open("ssh-key", ciphertext)
    # Copying it into the gateway's own scope does not help: the name binds the scope too.
    await kv.put("webhook-gw.ssh-key", ciphertext)
    with pytest.raises(SecretError, match="cannot be decrypted"):
        await SecretStore(admin.js, box("webhook-gw")).get("ssh-key")
    assert box("deployer").open("ssh-key", ciphertext) == SSH_KEY
