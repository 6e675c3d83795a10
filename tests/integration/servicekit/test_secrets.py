"""Secrets are stored encrypted in JetStream KV and read back only with the right key."""

from __future__ import annotations

from typing import Any

import pytest

from hearth_events.jetstream import SECRETS_BUCKET, ensure
from hearth_servicekit.secrets import SecretBox, SecretError, SecretStore, new_secret_key

pytestmark = pytest.mark.integration


async def test_secrets_round_trip_and_are_encrypted_at_rest(js: Any) -> None:
    await ensure(js, buckets=(SECRETS_BUCKET,))
    store = SecretStore(js, SecretBox(new_secret_key()))
    await store.put("ha-token", b"eyJhbGciOi-very-secret")
    assert await store.get("ha-token") == b"eyJhbGciOi-very-secret"
    raw = await (await js.key_value(SECRETS_BUCKET)).get("ha-token")
    assert b"very-secret" not in raw.value
    assert "ha-token" in await store.names()
    await store.delete("ha-token")
    assert await store.get("ha-token") is None
    assert await store.get("never-stored") is None


async def test_another_key_cannot_read_them(js: Any) -> None:
    await ensure(js, buckets=(SECRETS_BUCKET,))
    await SecretStore(js, SecretBox(new_secret_key())).put("mine", b"value")
    with pytest.raises(SecretError, match="another HEARTH_SECRET_KEY"):
        await SecretStore(js, SecretBox(new_secret_key())).get("mine")


def test_bad_keys_and_names_are_refused_clearly() -> None:
    with pytest.raises(SecretError, match="not a valid key"):
        SecretBox("short")
    from hearth_servicekit.secrets import check_secret_name

    with pytest.raises(SecretError, match="invalid"):
        check_secret_name("../etc/passwd")
    assert "***" in repr(SecretBox(new_secret_key()))
