"""Reading bookkeeping stored before the device aggregates had named internal events.

Until then each device-manager-only change was one ``Noted`` event (a kind and its fields)
under the topic below; each old kind maps to the named event that replaced it, so an old
aggregate replays to the same state.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from hearth_device_manager.domain.device import Device, DeviceIndex

_NAMED: dict[str, type[Aggregate.Event]] = {
    "found": Device.Located,
    "credentials": Device.CredentialsChosen,
    "renamed": Device.Renamed,
    "indexed": DeviceIndex.Indexed,
    "declared": DeviceIndex.Declared,
}


class Noted(Aggregate.Event):
    """An old bookkeeping event, only ever read: applied as the named event it became."""

    kind: str
    fields: dict[str, Any]

    def apply(self, aggregate: Aggregate) -> None:
        _NAMED[self.kind](
            originator_id=self.originator_id,
            originator_version=self.originator_version,
            timestamp=self.timestamp,
            **self.fields,
        ).apply(aggregate)


register_topic("hearth_device_manager.domain.device:DeviceAggregate.Noted", Noted)
