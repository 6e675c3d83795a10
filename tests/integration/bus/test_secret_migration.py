"""``hearth up`` moves secrets stored before scopes (Fernet under the installation key, no
scope in the key) into the scopes that hearth.yaml reads them from, once."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from hearth.config import load_config_text
from hearth.stack.secrets import migrate_unscoped, stored
from hearth_events.jetstream import SECRETS_BUCKET
from hearth_servicekit.secrets import SecretBox, SecretStore, scope_key
from tests.integration.bus.conftest import Session, connect

pytestmark = pytest.mark.asyncio

KEY = Fernet.generate_key().decode()
CONFIG = load_config_text(
    """
repositories:
  - name: alice/home
    url: https://github.com/alice/home.git
    provider: github
    webhook_secret: old-webhook
    token_secret: old-token
targets:
  - name: ha
    kind: files
    host: 127.0.0.1
    user: hearth
    key_secret: old-ssh
    remote_path: /srv/ha
    repo: alice/home
  - name: ha2
    kind: files
    host: 127.0.0.1
    user: hearth
    key_secret: preset
    remote_path: /srv/ha2
    repo: alice/home
""",
    "hearth.yaml",
)
OLD = {
    "old-webhook": b"whsec-canary",
    "old-token": b"ghp-canary",
    "old-ssh": b"ssh-canary",
    "stray": b"stray-canary",
    "preset": b"preset-old-canary",
}


async def test_old_secrets_move_into_their_scopes_once(bus_url: str, admin: Session) -> None:
    kv = await admin.js.key_value(SECRETS_BUCKET)
    for name, value in OLD.items():
        await kv.put(name, Fernet(KEY.encode()).encrypt(value))
    await kv.put("undecryptable", b"not-a-fernet-token")
    # Set with --for after the old value was stored: the newer value is kept.
    deployer = SecretStore(admin.js, SecretBox(scope_key(KEY, "deployer")))
    await deployer.put("preset", b"preset-new-canary")

    said = await migrate_unscoped(admin.js, KEY, CONFIG)

    assert any("'undecryptable'" in line and "left as it is" in line for line in said)
    assert any("'old-token'" in line and "webhook-gw, deployer" in line for line in said)
    again = await migrate_unscoped(admin.js, KEY, CONFIG)
    assert again and all("left as it is" in line for line in again)  # nothing moves twice
    mine = {s for s in await stored(admin.js) if s[1] in {*OLD, "undecryptable"}}
    assert mine == {
        ("webhook-gw", "old-webhook"),
        ("deployer", "old-token"),
        ("webhook-gw", "old-token"),
        ("deployer", "old-ssh"),
        ("deployer", "stray"),  # referenced nowhere: the deployer's scope
        ("deployer", "preset"),
        ("", "undecryptable"),
    }
    # Each service reads them with its own NATS user and its own scope key.
    for scope, names in {
        "webhook-gw": ("old-webhook", "old-token"),
        "deployer": ("old-token", "old-ssh", "stray"),
    }.items():
        session = await connect(bus_url, scope)
        store = SecretStore(session.js, SecretBox(scope_key(KEY, scope)))
        for name in names:
            assert await store.get(name) == OLD[name]
        await session.nc.close()
    assert await deployer.get("preset") == b"preset-new-canary"
