"""Composition root of the webhook gateway: real adapters by default, fakes in tests."""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp import web

from hearth_events import Envelope, command_subject, event_filter
from hearth_events.catalogue import RepositorySpec
from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings
from hearth_servicekit.commands import serve_command
from hearth_servicekit.follower import StreamFollower
from hearth_servicekit.publishing import JetStreamSink
from hearth_servicekit.secret_watch import WatchedSecrets
from hearth_servicekit.secrets import SecretBox, SecretStore, service_box
from hearth_webhook_gw.adapters.heads import GitHubRefs, GitLsRemote
from hearth_webhook_gw.adapters.secrets import RegistrySecrets
from hearth_webhook_gw.domain.deliveries import Delivery, Reply
from hearth_webhook_gw.domain.heads import KnownHeads
from hearth_webhook_gw.domain.registry import REGISTRY_SUBJECTS, RepositoryRegistry
from hearth_webhook_gw.entrypoints.http import IN_FLIGHT, add_webhook_routes
from hearth_webhook_gw.entrypoints.poller import Poller
from hearth_webhook_gw.handlers import ApplyRepositories, accept_delivery, apply_repositories
from hearth_webhook_gw.settings import WebhookSettings

APPLY_REPOSITORIES = command_subject("git", "ApplyRepositories")


class WebhookGateway(BusService):
    name: ClassVar[str] = "webhook-gw"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ("hearth_secrets",)
    consumers: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        settings: ServiceSettings,
        metrics: ServiceMetrics,
        box: SecretBox,
        *,
        in_flight: int = IN_FLIGHT,
        workers: int = 1,
        polls: bool = True,
    ) -> None:
        super().__init__(settings, metrics)
        self._in_flight = in_flight
        self._workers = workers
        self._polls_repositories = polls
        self.registry = RepositoryRegistry()
        self.known_heads = KnownHeads()
        self._box = box
        self._store: SecretStore | None = None
        self.secrets_watch: WatchedSecrets | None = None
        self._secrets: RegistrySecrets | None = None
        self._sink: JetStreamSink | None = None
        self._deliveries = metrics.counter(
            "hearth_webhook_deliveries",
            "Webhook deliveries by GitHub event and reply status",
            ["event", "status"],
        )
        self._polls = metrics.counter(
            "hearth_repository_polls", "Repository polls by outcome", ["repo", "outcome"]
        )

    @property
    def source(self) -> str:
        return f"{self.name}/{self.settings.instance}"

    async def on_start(self) -> None:
        # Repositories and the heads already seen come from the stream; catch up first so
        # neither a webhook nor a poll acts on stale knowledge. Only the poll needs the
        # heads: a worker that does not poll does not read every push its siblings store.
        heads = [event_filter("git", "PushReceived")] if self._polls_repositories else []
        follower = StreamFollower(self.js, [*REGISTRY_SUBJECTS, *heads], self._follow)
        await follower.catch_up()
        self.spawn(follower.run(self.stopping), "follow-repositories")
        self.secrets_watch = WatchedSecrets(self.nc, self.js, self._box)
        self._store = self.secrets_watch.store
        self.spawn(self.secrets_watch.run(self.stopping), "watch-secrets")
        self._secrets = RegistrySecrets(self.registry, self.secrets_watch)
        self._sink = JetStreamSink(self.js)
        await serve_command(
            self.nc,
            APPLY_REPOSITORIES,
            ApplyRepositories,
            self._apply_repositories,
            queue=self.name,
        )
        if not self._polls_repositories:
            return
        poller = Poller(
            repositories=self.registry.all,
            sources={"git": GitLsRemote(), "github": GitHubRefs()},
            token_for=self._token_for,
            known=self.known_heads,
            sink=self._sink,
            source_name=self.source,
            on_result=lambda repo, outcome: self._polls.labels(repo, outcome).inc(),
        )
        self.spawn(poller.run(self.stopping), "poll-repositories")

    def _follow(self, envelope: Envelope) -> None:
        self.registry.apply(envelope)
        self.known_heads.apply(envelope)

    async def _token_for(self, spec: RepositorySpec) -> str | None:
        if spec.token_secret is None or self._store is None:
            return None
        token = await self._store.get(spec.token_secret)
        return token.decode() if token is not None else None

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

    def shares_port(self) -> bool:
        return self._workers > 1

    def routes(self, app: web.Application) -> None:
        add_webhook_routes(app, self.accept, in_flight=self._in_flight)


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> WebhookGateway:
    box = service_box(settings.scope_key, WebhookGateway.name, "webhook secrets")
    if not isinstance(settings, WebhookSettings):
        return WebhookGateway(settings, metrics, box)
    return WebhookGateway(
        settings,
        metrics,
        box,
        in_flight=settings.webhook_in_flight,
        workers=settings.webhook_workers,
        polls=settings.polls,
    )
