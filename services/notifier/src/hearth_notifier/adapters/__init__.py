"""The notifier's clients of the outside: Apprise, presence in the KV buckets, and the ports
the handlers need (the secret store itself is servicekit's ``SecretStore``)."""

from __future__ import annotations

from typing import Protocol


class SecretLookup(Protocol):
    async def get(self, name: str) -> bytes | None: ...
