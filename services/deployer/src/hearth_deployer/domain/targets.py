"""The declared targets and the host keys trusted on first use."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from hearth_deployer.domain.ids import KNOWN_HOSTS_ID, TARGETS_ID
from hearth_events import EventData
from hearth_events.catalogue import TargetRegistered, TargetRemoved, TargetSpec, TargetUpdated
from hearth_eventstore.store import HearthAggregate
from hearth_servicekit.declarations import DeclarationEvents, Declarations

TARGET_EVENTS = DeclarationEvents(TargetRegistered, TargetUpdated, TargetRemoved, "target")


class TargetBook(HearthAggregate):
    """Every declared target; changed only by ``ApplyTargets``."""

    @staticmethod
    def create_id() -> UUID:
        return TARGETS_ID

    def __init__(self) -> None:
        self.registry: Declarations[TargetSpec] = Declarations(TARGET_EVENTS)

    def when(self, data: EventData) -> None:
        self.registry.apply_data(data)


class KnownHosts(HearthAggregate):
    """Host keys trusted on first use, so a restart keeps them pinned (never published)."""

    @staticmethod
    def create_id() -> UUID:
        return KNOWN_HOSTS_ID

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def learn(self, host: str, port: int, line: str) -> bool:
        """Trust ``line`` for the host; False when it was trusted already."""
        if self.keys.get(f"{host}:{port}") == line:
            return False
        self._host_key_learned(host, port, line)
        return True

    class HostKeyLearned(HearthAggregate.Event):
        host: str
        port: int
        line: str

    @event(HostKeyLearned)
    def _host_key_learned(self, host: str, port: int, line: str) -> None:
        self.keys[f"{host}:{port}"] = line
