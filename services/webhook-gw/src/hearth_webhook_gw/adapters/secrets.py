"""Webhook secrets: the port the handlers need, and its adapter over the registry and the
secret store (watched, so a delivery costs no bucket read while the watch is current)."""

from __future__ import annotations

from typing import Protocol

from hearth_servicekit.publishing import BUS_ERRORS, BusUnavailable
from hearth_servicekit.secret_watch import WatchedSecrets
from hearth_servicekit.secrets import SecretStore
from hearth_webhook_gw.domain.deliveries import HookSecret, NoSecret
from hearth_webhook_gw.domain.registry import RepositoryRegistry


class WebhookSecrets(Protocol):
    async def all_secrets(self) -> list[HookSecret]:
        """Every stored webhook secret of a declared repository: a signature is checked
        against these before the body is parsed.

        Raises BusUnavailable when the secret store cannot be reached.
        """

    async def secret_for(self, repo: str) -> tuple[str, bytes] | NoSecret:
        """The webhook secret of ``repo`` (``owner/name``) as (its name, its value), or
        why Hearth has none: only to say in the log why a delivery was refused.

        Raises BusUnavailable when the secret store cannot be reached.
        """


class RegistrySecrets:
    """A repository's webhook secret: its name from the registry, its value from the store."""

    def __init__(self, registry: RepositoryRegistry, store: SecretStore | WatchedSecrets) -> None:
        self._registry = registry
        self._store = store
        self._cached: tuple[tuple[int, int], list[HookSecret]] | None = None

    def _cache_key(self) -> tuple[int, int] | None:
        """What the list depends on, while it can be known: the registry's revision and the
        watched values' generation (a rotated or removed secret changes the latter)."""
        if isinstance(self._store, WatchedSecrets) and self._store.current:
            return (self._registry.revision, self._store.generation)
        return None

    async def all_secrets(self) -> list[HookSecret]:
        key = self._cache_key()
        if key is not None and self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        found = await self._load()
        if key is not None:  # taken before loading: a change meanwhile misses next time
            self._cached = (key, found)
        return found

    async def _load(self) -> list[HookSecret]:
        users: dict[str, set[str]] = {}
        for spec in self._registry.all():
            if spec.webhook_secret is not None:
                users.setdefault(spec.webhook_secret, set()).add(spec.name.lower())
        found = []
        for name, repos in users.items():
            try:
                value = await self._store.get(name)
            except BUS_ERRORS as exc:
                raise BusUnavailable(type(exc).__name__) from exc
            if value is not None:
                found.append(HookSecret(name, value, frozenset(repos)))
        return found

    async def secret_for(self, repo: str) -> tuple[str, bytes] | NoSecret:
        spec = self._registry.get(repo)
        if spec is None:
            return NoSecret(
                f"no repository named {repo} is declared; declare it in hearth.yaml under "
                "repositories (with a webhook_secret) and run `hearth apply`"
            )
        name = spec.webhook_secret
        if name is None:
            return NoSecret(
                f"repository {repo} is declared without a webhook_secret, so Hearth cannot "
                "verify its webhooks; set webhook_secret: <secret name> under it in "
                "hearth.yaml and store the value with `hearth secret set <secret name>`"
            )
        try:
            value = await self._store.get(name)
        except BUS_ERRORS as exc:
            raise BusUnavailable(type(exc).__name__) from exc
        if value is None:
            return NoSecret(
                f"the webhook secret {name!r} of repository {repo} is not stored; "
                f"run `hearth secret set {name}` with the secret of the GitHub webhook"
            )
        return name, value
