"""``DeviceOps``: what fleet operations record about one device (one per MAC, beside its
``Device`` aggregate): imports, restores and the firmware it is offered."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from hearth_device_manager.domain.device import NAMESPACE, normal_mac
from hearth_events import EventData
from hearth_events.catalogue import (
    DeviceConfigImported,
    DeviceConfigRestored,
    FirmwareUpdateAvailable,
    FirmwareUpdated,
)
from hearth_eventstore.store import HearthAggregate, Meta

CHANNELS = ("stable", "beta")


def ops_uuid(mac: str) -> UUID:
    return uuid5(NAMESPACE, f"ops:{normal_mac(mac)}")


def offers_in(status: dict[str, Any]) -> dict[str, str]:
    """``sys.available_updates`` of a Gen2+ status as ``{channel: version}``."""
    updates = (status.get("sys") or {}).get("available_updates") or {}
    return {
        channel: str(offer["version"])
        for channel, offer in updates.items()
        if channel in CHANNELS and isinstance(offer, dict) and offer.get("version")
    }


class DeviceOps(HearthAggregate):
    @staticmethod
    def create_id(mac: str) -> UUID:
        return ops_uuid(mac)

    def __init__(self, mac: str) -> None:
        self.mac = normal_mac(mac)
        self.offers: dict[str, str] = {}
        self.installed: str | None = None

    def imported(self, device_id: str, config: dict[str, Any], meta: Meta) -> None:
        self.record(DeviceConfigImported(device_id=device_id, config=config), meta)

    def restored(
        self, device_id: str, backup_id: str, source: str, fields: list[str], meta: Meta
    ) -> None:
        self.record(
            DeviceConfigRestored(
                device_id=device_id,
                backup_id=backup_id,
                from_device_id=source,
                fields=tuple(fields),
            ),
            meta,
        )

    def offered(self, device_id: str, installed: str, offers: dict[str, str], meta: Meta) -> bool:
        """The device offers ``offers``: ``FirmwareUpdateAvailable`` for each new one.
        True when something was recorded."""
        if offers == self.offers and installed == self.installed:
            return False
        for channel in CHANNELS:
            version = offers.get(channel)
            if version and version != installed and version != self.offers.get(channel):
                self.record(
                    FirmwareUpdateAvailable(
                        device_id=device_id,
                        current=installed,
                        available=version,
                        channel=channel,
                    ),
                    meta,
                )
        self._offers_seen(installed, dict(offers))
        return True

    def when(self, data: EventData) -> None:
        if isinstance(data, FirmwareUpdateAvailable):
            self.offers[data.channel] = data.available
        elif isinstance(data, FirmwareUpdated):
            self.installed = data.version

    class OffersSeen(HearthAggregate.Event):
        installed: str
        offers: dict[str, str]

    @event(OffersSeen)
    def _offers_seen(self, installed: str, offers: dict[str, str]) -> None:
        self.installed, self.offers = installed, offers
