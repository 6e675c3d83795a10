"""Composition root of the deployer service: real adapters by default, fakes in tests."""

from __future__ import annotations

from typing import ClassVar

from hearth_deployer.store import SCHEMA, DeployerApplication
from hearth_eventstore.relay import Relay
from hearth_eventstore.service import open_when_reachable, start_relay
from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings


class Deployer(BusService):
    name: ClassVar[str] = "deployer"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ("hearth_locks",)
    consumers: ClassVar[tuple[str, ...]] = ("deployer",)
    uses_database: ClassVar[bool] = True

    app: DeployerApplication | None = None
    relay: Relay | None = None

    async def on_start(self) -> None:
        self.app = await open_when_reachable(self, DeployerApplication, SCHEMA)
        self.relay = start_relay(self, self.app)

    def details(self) -> dict[str, object]:
        if self.relay is None:
            return {}
        return {"relay": {"leader": self.relay.leader.is_set(), "position": self.relay.position}}


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> Deployer:
    return Deployer(settings, metrics)
