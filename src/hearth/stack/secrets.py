"""The admin's view of the secrets bucket: store, list and remove per scope, and migrate.

Only the admin side (``hearth up``, the CLI) holds the installation key; it derives each
scope's box from it. Secrets stored before scopes existed (a key without a ``.``, Fernet
under the installation key) are moved by :func:`migrate_unscoped` into every scope that
``hearth.yaml`` references them from, or :data:`UNREFERENCED_SCOPE`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from nats.js.errors import KeyWrongLastSequenceError, NoKeysError, NotFoundError

from hearth.cli.state import cli_command
from hearth.config import HearthConfig
from hearth.secret_scopes import UNREFERENCED_SCOPE, referencing_scopes
from hearth_events.jetstream import SECRET_SCOPES, SECRETS_BUCKET
from hearth_servicekit.secrets import (
    SecretBox,
    SecretError,
    SecretStore,
    open_unscoped,
    stored_key,
)

Scoped = tuple[str, str]  # (scope, name)


def scoped_store(js: Any, installation_key: str, scope: str) -> SecretStore:
    return SecretStore(js, SecretBox.for_scope(installation_key, scope))


async def put_scoped(js: Any, installation_key: str, values: dict[Scoped, bytes]) -> None:
    for (scope, name), value in values.items():
        await scoped_store(js, installation_key, scope).put(name, value)


async def _keys(js: Any) -> list[str]:
    try:
        return list(await (await js.key_value(SECRETS_BUCKET)).keys())
    except NoKeysError:
        return []


async def stored(js: Any) -> list[Scoped]:
    """Every stored secret as (scope, name), sorted by name; unscoped ones as ("", name)."""
    found = [
        (scope, name) if sep else ("", key)
        for key in await _keys(js)
        for scope, sep, name in [key.partition(".")]
    ]
    return sorted(found, key=lambda s: (s[1], s[0]))


async def remove(js: Any, scope: str, name: str) -> bool:
    """Delete ``scope.name``; False when it was not stored."""
    kv = await js.key_value(SECRETS_BUCKET)
    key = stored_key(scope, name)
    try:
        entry = await kv.get(key)
    except NotFoundError:
        return False
    if entry.value is None:
        return False
    await kv.delete(key)
    return True


async def migrate_unscoped(
    js: Any, installation_key: str, config: HearthConfig | None
) -> list[str]:
    """Move every unscoped secret into its scopes; one line per secret, for the person.

    Idempotent: a scoped value already there is kept (it was set later, with ``--for``),
    and the unscoped key is deleted only after every scope holds the value.
    """
    kv = await js.key_value(SECRETS_BUCKET)
    said: list[str] = []
    for key in await _keys(js):
        if "." in key:
            continue
        try:
            entry = await kv.get(key)
        except NotFoundError:
            continue
        if entry.value is None:
            continue
        try:
            value = open_unscoped(installation_key, entry.value)
        except SecretError:
            said.append(
                f"secret {key!r} (stored before scopes) does not decrypt with this "
                f"installation key; left as it is: store it again with "
                f"`{cli_command()} secret set {key} --for <scope>`"
            )
            continue
        scopes = [s for s in SECRET_SCOPES if s in referencing_scopes(config, key)]
        scopes = scopes or [UNREFERENCED_SCOPE]
        for scope in scopes:
            sealed = SecretBox.for_scope(installation_key, scope).seal(key, value)
            # Already there: set with --for after the old value was stored; keep it.
            with contextlib.suppress(KeyWrongLastSequenceError):
                await kv.create(stored_key(scope, key), sealed)
        await kv.delete(key)
        said.append(f"secret {key!r} (stored before scopes) moved into {', '.join(scopes)}")
    return said
