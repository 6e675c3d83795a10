"""Secrets by name, each in its owner's scope: encrypted at rest, never logged.

Values live in the ``hearth_secrets`` KV bucket under ``<scope>.<name>``; the scope is the
service that uses the secret (:data:`SECRET_SCOPES`). Each scope has its own data key,
derived with HKDF-SHA256 from the installation key (which only ``hearth up`` and the admin
CLI hold); a service receives only its own scope key (``HEARTH_SCOPE_KEY``). A value is
sealed with AES-256-GCM whose associated data is ``<scope>.<name>``, so a ciphertext
copied to another name or scope does not decrypt. Events, logs and API responses only
ever carry a secret's *name*.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nats.js.errors import NotFoundError
from pydantic import SecretStr

from hearth_events.jetstream import SECRET_SCOPES, SECRETS_BUCKET
from hearth_servicekit.redaction import remember

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
FORMAT_V1 = b"hs1:"  # stored value = FORMAT_V1 + 12-byte nonce + AES-GCM ciphertext and tag
_NONCE = 12


class SecretError(Exception):
    """A secret that cannot be stored or read; the message says what to do."""


def new_secret_key() -> str:
    """A new installation key: 32 random bytes, url-safe base64."""
    return Fernet.generate_key().decode()


def check_secret_name(name: str) -> str:
    if not _NAME.match(name):
        raise SecretError(
            f"secret name {name!r} is invalid: use letters, digits, '-' and '_' "
            "(at most 128, starting with a letter or digit)"
        )
    return name


def check_scope(scope: str) -> str:
    if scope not in SECRET_SCOPES:
        raise SecretError(f"unknown secret scope {scope!r}; say --for {'|'.join(SECRET_SCOPES)}")
    return scope


def _installation_bytes(installation_key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(installation_key.encode())
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise SecretError(
            "HEARTH_SECRET_KEY is not a valid installation key (32 url-safe base64-encoded "
            "bytes); `hearth up` creates one in the data dir"
        )
    return raw


def scope_key(installation_key: str, scope: str) -> str:
    """The data key of ``scope`` as a service receives it: ``<scope>:<base64 key>``."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"hearth secrets v1 " + check_scope(scope).encode(),
    )
    key = hkdf.derive(_installation_bytes(installation_key))
    return f"{scope}:{base64.urlsafe_b64encode(key).decode()}"


class SecretBox:
    """Seals and opens the values of one scope; built from that scope's key."""

    def __init__(self, key: str) -> None:
        scope, _, encoded = key.partition(":")
        try:
            raw = base64.urlsafe_b64decode(encoded.encode())
        except (ValueError, binascii.Error):
            raw = b""
        if scope not in SECRET_SCOPES or len(raw) != 32:
            raise SecretError(
                "HEARTH_SCOPE_KEY is not a scope key (`<scope>:<32 base64 bytes>`); print "
                "this service's with `hearth secret service-key --for <service>`"
            )
        self.scope = scope
        self._aead = AESGCM(raw)

    @classmethod
    def for_scope(cls, installation_key: str, scope: str) -> SecretBox:
        return cls(scope_key(installation_key, scope))

    def _bound_to(self, name: str) -> bytes:
        return f"{self.scope}.{check_secret_name(name)}".encode()

    def seal(self, name: str, value: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return FORMAT_V1 + nonce + self._aead.encrypt(nonce, value, self._bound_to(name))

    def open(self, name: str, token: bytes) -> bytes:
        if not token.startswith(FORMAT_V1):
            raise SecretError(
                f"secret {self.scope}.{name} is not in a format this Hearth reads; store it "
                f"again with `hearth secret set {name} --for {self.scope}`"
            )
        body = token[len(FORMAT_V1) :]
        try:
            return self._aead.decrypt(body[:_NONCE], body[_NONCE:], self._bound_to(name))
        except InvalidTag:
            raise SecretError(
                f"secret {self.scope}.{name} cannot be decrypted with the {self.scope} key: it "
                "was stored under another installation key or copied from another name or "
                f"scope; store it again with `hearth secret set {name} --for {self.scope}`"
            ) from None

    def __repr__(self) -> str:
        return f"SecretBox({self.scope}, ***)"


def open_unscoped(installation_key: str, token: bytes) -> bytes:
    """A value stored before secrets had scopes (Fernet under the installation key)."""
    try:
        return Fernet(installation_key.encode()).decrypt(token)
    except (InvalidToken, ValueError):
        raise SecretError(
            "an unscoped secret could not be decrypted with this installation key"
        ) from None


def stored_key(scope: str, name: str) -> str:
    return f"{check_scope(scope)}.{check_secret_name(name)}"


class SecretStore:
    """The secrets of the box's scope in JetStream KV; ``js`` is a ``JetStreamContext``."""

    def __init__(self, js: Any, box: SecretBox) -> None:
        self._js = js
        self._box = box
        self._kv: Any = None

    @property
    def scope(self) -> str:
        return self._box.scope

    async def _bucket(self) -> Any:
        if self._kv is None:
            self._kv = await self._js.key_value(SECRETS_BUCKET)
        return self._kv

    async def put(self, name: str, value: bytes) -> None:
        sealed = self._box.seal(name, value)
        await (await self._bucket()).put(stored_key(self.scope, name), sealed)

    async def get(self, name: str) -> bytes | None:
        try:
            entry = await (await self._bucket()).get(stored_key(self.scope, name))
        except NotFoundError:  # never stored, or deleted
            return None
        if entry.value is None:
            return None
        return remember(self._box.open(name, entry.value))  # redacted from logs and events

    async def delete(self, name: str) -> None:
        await (await self._bucket()).delete(stored_key(self.scope, name))


def service_box(scope_key_value: SecretStr | None, service: str, what: str) -> SecretBox:
    """The box a service reads its secrets with; exits with one line when misconfigured."""
    if scope_key_value is None:
        raise SystemExit(
            f"{service}: HEARTH_SCOPE_KEY is not set; {what} cannot be read without it "
            f"(`hearth up` passes it; with compose: `hearth secret service-key --for {service}`)"
        )
    try:
        box = SecretBox(scope_key_value.get_secret_value())
    except SecretError as exc:
        raise SystemExit(f"{service}: {exc}") from None
    if box.scope != service:
        raise SystemExit(
            f"{service}: HEARTH_SCOPE_KEY is the key of scope {box.scope}, not {service}; "
            f"print the right one with `hearth secret service-key --for {service}`"
        )
    return box
