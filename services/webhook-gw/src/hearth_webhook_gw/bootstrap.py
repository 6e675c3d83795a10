"""Composition root of the webhook gateway: real adapters by default, fakes in tests."""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp import web

from hearth_events import command_subject
from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings
from hearth_servicekit.commands import serve_command
from hearth_servicekit.follower import StreamFollower
from hearth_servicekit.secrets import SecretBox, SecretStore
from hearth_webhook_gw.adapters import JetStreamSink, RegistrySecrets
from hearth_webhook_gw.http import add_webhook_routes
from hearth_webhook_gw.intake import Delivery, Reply, accept_delivery
from hearth_webhook_gw.registry import REGISTRY_SUBJECTS, RepositoryRegistry
from hearth_webhook_gw.repositories import ApplyRepositories, apply_repositories

APPLY_REPOSITORIES = command_subject("git", "ApplyRepositories")


class WebhookGateway(BusService):
    name: ClassVar[str] = "webhook-gw"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ("hearth_secrets",)
    consumers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: ServiceSettings, metrics: ServiceMetrics, box: SecretBox) -> None:
        super().__init__(settings, metrics)
        self.registry = RepositoryRegistry()
        self._box = box
        self._secrets: RegistrySecrets | None = None
        self._sink: JetStreamSink | None = None
        self._deliveries = metrics.counter(
            "hearth_webhook_deliveries",
            "Webhook deliveries by GitHub event and reply status",
            ["event", "status"],
        )

    @property
    def source(self) -> str:
        return f"{self.name}/{self.settings.instance}"

    async def on_start(self) -> None:
        follower = StreamFollower(self.js, REGISTRY_SUBJECTS, self.registry.apply)
        await follower.catch_up()
        self.spawn(follower.run(self.stopping), "follow-repositories")
        self._secrets = RegistrySecrets(self.registry, SecretStore(self.js, self._box))
        self._sink = JetStreamSink(self.js)
        await serve_command(
            self.nc,
            APPLY_REPOSITORIES,
            ApplyRepositories,
            self._apply_repositories,
            queue=self.name,
        )

    async def _apply_repositories(self, request: ApplyRepositories) -> dict[str, Any]:
        assert self._sink is not None
        return await apply_repositories(request, self.registry, self._sink, source=self.source)

    async def accept(self, delivery: Delivery) -> Reply:
        if self._secrets is None or self._sink is None or not self.started.is_set():
            reply = Reply(503, {"error": "starting", "detail": "Hearth is starting; redeliver"})
        else:
            reply = await accept_delivery(delivery, self._secrets, self._sink, source=self.source)
        self._deliveries.labels(delivery.event or "-", str(reply.status)).inc()
        return reply

    def routes(self, app: web.Application) -> None:
        add_webhook_routes(app, self.accept)


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> WebhookGateway:
    if settings.secret_key is None:
        raise SystemExit(
            "webhook-gw: HEARTH_SECRET_KEY is not set; webhook secrets cannot be read "
            "without it (`hearth up` creates one in the data dir)"
        )
    return WebhookGateway(settings, metrics, SecretBox(settings.secret_key.get_secret_value()))
