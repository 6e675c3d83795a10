"""The gateway's real adapters: secrets from the secret store, events to JetStream."""

from __future__ import annotations

from typing import Any

from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from hearth_events import Envelope
from hearth_events.publish import publish_event
from hearth_servicekit.secrets import SecretStore
from hearth_webhook_gw.intake import BusUnavailable
from hearth_webhook_gw.registry import RepositoryRegistry

BUS_ERRORS = (NatsTimeoutError, TimeoutError, NoRespondersError, ConnectionClosedError)

# GitHub gives up after 10 s; leave time to answer 503 so it records a failure it can redeliver.
PUBLISH_TIMEOUT_S = 5.0


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


class JetStreamSink:
    def __init__(self, js: Any, timeout: float = PUBLISH_TIMEOUT_S) -> None:
        self._js = js
        self._timeout = timeout

    async def publish(self, envelope: Envelope) -> bool:
        try:
            ack = await publish_event(self._js, envelope, timeout=self._timeout)
        except BUS_ERRORS as exc:
            raise BusUnavailable(type(exc).__name__) from exc
        return bool(ack.duplicate)
