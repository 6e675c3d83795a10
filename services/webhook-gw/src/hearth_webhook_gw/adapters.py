"""The gateway's real adapters: webhook secrets from the registry and the secret store."""

from __future__ import annotations

from hearth_servicekit.publishing import BUS_ERRORS, BusUnavailable
from hearth_servicekit.secrets import SecretStore
from hearth_webhook_gw.registry import RepositoryRegistry


class RegistrySecrets:
    """A repository's webhook secret: its name from the registry, its value from the store."""

    def __init__(self, registry: RepositoryRegistry, store: SecretStore) -> None:
        self._registry = registry
        self._store = store

    async def secret_for(self, repo: str) -> bytes | None:
        spec = self._registry.get(repo)
        if spec is None or spec.webhook_secret is None:
            return None
        try:
            return await self._store.get(spec.webhook_secret)
        except BUS_ERRORS as exc:
            raise BusUnavailable(type(exc).__name__) from exc
