"""Secrets are stored per scope, encrypted at rest, and open only with their scope's key
under their own name."""

from __future__ import annotations

from typing import Any

import pytest

from hearth_events.jetstream import SECRETS_BUCKET, ensure
from hearth_servicekit.secrets import (
    SecretBox,
    SecretError,
    SecretStore,
    check_secret_name,
    new_secret_key,
    scope_key,
)

pytestmark = pytest.mark.integration

KEY = new_secret_key()


def store(js: Any, scope: str, key: str = KEY) -> SecretStore:
    return SecretStore(js, SecretBox.for_scope(key, scope))


async def test_secrets_round_trip_under_their_scope_and_are_encrypted_at_rest(js: Any) -> None:
    await ensure(js, buckets=(SECRETS_BUCKET,))
    deployer = store(js, "deployer")
    await deployer.put("ha-token", b"eyJhbGciOi-very-secret")
    assert await deployer.get("ha-token") == b"eyJhbGciOi-very-secret"
    raw = await (await js.key_value(SECRETS_BUCKET)).get("deployer.ha-token")
    assert raw.value.startswith(b"hs1:") and b"very-secret" not in raw.value
    assert await store(js, "notifier").get("ha-token") is None  # another scope's key space
    await deployer.delete("ha-token")
    assert await deployer.get("ha-token") is None
    assert await deployer.get("never-stored") is None


async def test_a_ciphertext_moved_to_another_name_or_scope_does_not_decrypt(js: Any) -> None:
    await ensure(js, buckets=(SECRETS_BUCKET,))
    kv = await js.key_value(SECRETS_BUCKET)
    await store(js, "deployer").put("ssh-key", b"-----BEGIN OPENSSH PRIVATE KEY-----")
    sealed = (await kv.get("deployer.ssh-key")).value
    await kv.put("deployer.ha-token", sealed)  # swapped to another name, same scope
    with pytest.raises(SecretError, match=r"deployer\.ha-token cannot be decrypted"):
        await store(js, "deployer").get("ha-token")
    await kv.put("webhook-gw.ssh-key", sealed)  # copied into another scope, same name
    with pytest.raises(SecretError, match=r"webhook-gw\.ssh-key cannot be decrypted"):
        await store(js, "webhook-gw").get("ssh-key")


async def test_another_installation_key_cannot_read_them(js: Any) -> None:
    await ensure(js, buckets=(SECRETS_BUCKET,))
    await store(js, "notifier").put("mine", b"value")
    with pytest.raises(SecretError, match="another installation key"):
        await store(js, "notifier", new_secret_key()).get("mine")


def test_scope_keys_differ_per_scope_and_are_bound_to_their_scope() -> None:
    keys = {s: scope_key(KEY, s) for s in ("webhook-gw", "deployer", "notifier")}
    assert len({k.partition(":")[2] for k in keys.values()}) == 3  # distinct key bytes
    assert keys["deployer"] == scope_key(KEY, "deployer")  # derived, not random
    assert keys["deployer"].startswith("deployer:")
    sealed = SecretBox(keys["deployer"]).seal("ssh-key", b"private")
    with pytest.raises(SecretError, match="cannot be decrypted with the webhook-gw key"):
        SecretBox(keys["webhook-gw"]).open("ssh-key", sealed)
    # The same bytes under another scope's name prefix do not help either.
    forged = keys["deployer"].replace("deployer:", "webhook-gw:")
    with pytest.raises(SecretError):
        SecretBox(forged).open("ssh-key", sealed)
    with pytest.raises(SecretError, match="not in a format"):
        SecretBox(keys["deployer"]).open("ssh-key", b"gAAAA-an-old-fernet-token")


def test_bad_keys_and_names_are_refused_clearly() -> None:
    with pytest.raises(SecretError, match="not a scope key"):
        SecretBox("short")
    with pytest.raises(SecretError, match="not a scope key"):
        SecretBox(KEY)  # the installation key is not a scope key
    with pytest.raises(SecretError, match="not a valid installation key"):
        scope_key("short", "deployer")
    with pytest.raises(SecretError, match="unknown secret scope"):
        scope_key(KEY, "query-api")
    with pytest.raises(SecretError, match="invalid"):
        check_secret_name("../etc/passwd")
    with pytest.raises(SecretError, match="invalid"):
        check_secret_name("deployer.ssh-key")
    assert "***" in repr(SecretBox.for_scope(KEY, "deployer"))
