"""Secrets by name: encrypted at rest with the installation's key, never logged.

Values live in the ``hearth_secrets`` KV bucket, each encrypted (Fernet: AES-128-CBC with
an HMAC-SHA256) under the key in ``HEARTH_SECRET_KEY``. Events, logs and API responses only
ever carry a secret's *name*.
"""

from __future__ import annotations

import re
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from nats.js.errors import NoKeysError, NotFoundError

from hearth_events.jetstream import SECRETS_BUCKET
from hearth_servicekit.redaction import remember

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class SecretError(Exception):
    """A secret that cannot be stored or read; the message says what to do."""


def new_secret_key() -> str:
    return Fernet.generate_key().decode()


def check_secret_name(name: str) -> str:
    if not _NAME.match(name):
        raise SecretError(
            f"secret name {name!r} is invalid: use letters, digits, '-' and '_' "
            "(at most 128, starting with a letter or digit)"
        )
    return name


class SecretBox:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError):
            raise SecretError(
                "HEARTH_SECRET_KEY is not a valid key (32 url-safe base64-encoded bytes); "
                "`hearth up` creates one in the data dir"
            ) from None

    def seal(self, value: bytes) -> bytes:
        return self._fernet.encrypt(value)

    def open(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise SecretError(
                "a secret could not be decrypted: it was stored under another HEARTH_SECRET_KEY"
            ) from None

    def __repr__(self) -> str:
        return "SecretBox(***)"


class SecretStore:
    """Encrypted secrets in JetStream KV; ``js`` is a ``JetStreamContext``."""

    def __init__(self, js: Any, box: SecretBox) -> None:
        self._js = js
        self._box = box
        self._kv: Any = None

    async def _bucket(self) -> Any:
        if self._kv is None:
            self._kv = await self._js.key_value(SECRETS_BUCKET)
        return self._kv

    async def put(self, name: str, value: bytes) -> None:
        await (await self._bucket()).put(check_secret_name(name), self._box.seal(value))

    async def get(self, name: str) -> bytes | None:
        try:
            entry = await (await self._bucket()).get(check_secret_name(name))
        except NotFoundError:  # never stored, or deleted
            return None
        if entry.value is None:
            return None
        return remember(self._box.open(entry.value))  # redacted from logs and events

    async def delete(self, name: str) -> None:
        await (await self._bucket()).delete(check_secret_name(name))

    async def names(self) -> list[str]:
        try:
            return sorted(await (await self._bucket()).keys())
        except NoKeysError:
            return []
