"""Composition root of the notifier: real adapters by default, fakes in tests."""

from __future__ import annotations

from typing import Any, ClassVar

from hearth_events import Envelope, command_subject, event_filter
from hearth_notifier.adapters.delivery import AppriseDeliverer, Deliverer
from hearth_notifier.adapters.presence import KvPresence
from hearth_notifier.domain.registry import DeliveredLog, RouteRegistry
from hearth_notifier.handlers import (
    ApplyRoutes,
    NotificationRouter,
    TestNotification,
    apply_routes,
    send_test,
)
from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings
from hearth_servicekit.commands import serve_command
from hearth_servicekit.follower import StreamFollower
from hearth_servicekit.publishing import JetStreamSink
from hearth_servicekit.secrets import SecretBox, SecretStore, service_box

FOLLOWED = [
    event_filter("notify", "RouteRegistered"),
    event_filter("notify", "RouteUpdated"),
    event_filter("notify", "RouteRemoved"),
    event_filter("notify", "NotificationSent"),
]


class Notifier(BusService):
    name: ClassVar[str] = "notifier"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ("hearth_secrets", "hearth_device_status", "hearth_agents")
    consumers: ClassVar[tuple[str, ...]] = ("notifier",)

    def __init__(
        self,
        settings: ServiceSettings,
        metrics: ServiceMetrics,
        box: SecretBox,
        deliverer: Deliverer | None = None,
    ) -> None:
        super().__init__(settings, metrics)
        self.route_registry = RouteRegistry()
        self.delivered = DeliveredLog()
        self._box = box
        self._deliverer = deliverer or AppriseDeliverer()

    @property
    def source(self) -> str:
        return f"{self.name}/{self.settings.instance}"

    def _follow(self, envelope: Envelope) -> None:
        self.route_registry.apply(envelope)
        self.delivered.apply(envelope)

    async def on_start(self) -> None:
        await self._deliverer.prepare()  # in a thread: the loop serves /healthz meanwhile
        follower = StreamFollower(self.js, FOLLOWED, self._follow)
        await follower.catch_up()
        self.spawn(follower.run(self.stopping), "follow-routes")
        secrets = SecretStore(self.js, self._box)
        sink = JetStreamSink(self.js)
        router = NotificationRouter(
            routes=self.route_registry.all,
            secrets=secrets,
            deliverer=self._deliverer,
            sink=sink,
            presence=KvPresence(self.js),
            delivered=self.delivered,
            source=self.source,
            dashboard_url=self.settings.public_url,
        )

        async def on_apply(request: ApplyRoutes) -> dict[str, Any]:
            return await apply_routes(
                request, self.route_registry, secrets, sink, source=self.source
            )

        async def on_test(request: TestNotification) -> dict[str, Any]:
            return await send_test(request, self.route_registry, secrets, self._deliverer)

        await serve_command(
            self.nc,
            command_subject("notify", "ApplyRoutes"),
            ApplyRoutes,
            on_apply,
            queue=self.name,
        )
        await serve_command(
            self.nc,
            command_subject("notify", "TestNotification"),
            TestNotification,
            on_test,
            queue=self.name,
        )
        self.consume("notifier", router.handle, concurrent=True, batch=256)


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> Notifier:
    return Notifier(
        settings, metrics, service_box(settings.scope_key, Notifier.name, "notification URLs")
    )
