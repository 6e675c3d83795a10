"""The Shelly fleet: each device as its ``device.*`` events left it, and its backups.

A device's row is made by the first event about it (its ``seq`` is that event's stream
sequence: the keyset of the fleet's pages, so a page never shifts when a device changes).
The name a person adopted a device under wins over the one it announced. A released
device keeps its row (it is still known) without what Hearth wanted of it; a device whose
desired config left Git (``DesiredConfigRemoved``) stays managed without it. Groups come from
``DesiredConfigChanged.groups`` (``groups`` in ``devices/<name>.toml``) once Git names
them. Firmware rollouts are in :mod:`~hearth_query_api.projections.rollouts`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from hearth_events import Envelope, EventData
from hearth_events.catalogue import (
    DesiredConfigChanged,
    DesiredConfigRemoved,
    DeviceAdopted,
    DeviceBackupTaken,
    DeviceConfigApplied,
    DeviceConfigApplyFailed,
    DeviceConfigImported,
    DeviceConfigRestored,
    DeviceDiscovered,
    DeviceDrifted,
    DeviceOffline,
    DeviceOnline,
    DeviceReleased,
    DriftResolved,
    FirmwareUpdateAvailable,
    FirmwareUpdated,
    FirmwareUpdateFailed,
    FirmwareUpdateStarted,
)
from hearth_query_api.domain.firmware import version_of

#: One event type: the UPDATE it makes ($1 device id, $2 time of the event) and the
#: values after those two, taken from the event.
Change = tuple[str, Callable[[Any], tuple[Any, ...]]]


def _groups(data: DesiredConfigChanged) -> list[str] | None:
    """The device's groups; None (keep what the row has) for an event from before
    ``DesiredConfigChanged`` carried them."""
    return None if data.groups is None else sorted(data.groups)


CHANGES: dict[type[EventData], Change] = {
    DeviceDiscovered: (
        """model = $3, gen = $4, mac = $5, address = $6,
           name = CASE WHEN adopted THEN name ELSE coalesce($7, name) END,
           firmware = coalesce($8, firmware), discovered_at = coalesce(discovered_at, $2)""",
        lambda d: (d.model, d.generation, d.mac, d.address, d.name, version_of(d.firmware)),
    ),
    DeviceAdopted: (
        "name = $3, site = coalesce($4, site), adopted = true",
        lambda d: (d.name, d.site),
    ),
    DeviceReleased: (
        """adopted = false, online = NULL, online_changed_at = $2, groups = '{}',
           drifted = false, differences = '[]', drifted_at = NULL, drift_resolved_how = NULL,
           desired_repo = NULL, desired_commit = NULL, desired = NULL,
           last_apply_error = NULL""",
        lambda d: (),
    ),
    DeviceOnline: (
        "online = true, online_changed_at = $2, last_seen = $2, address = $3",
        lambda d: (d.address,),
    ),
    DeviceOffline: (
        """online = false, online_changed_at = $2, last_seen = coalesce($3, last_seen),
           site = coalesce($4, site)""",
        lambda d: (d.last_seen, d.site),
    ),
    DesiredConfigChanged: (
        """desired_repo = $3, desired_commit = $4, desired = $5,
           groups = coalesce($6::text[], groups)""",
        lambda d: (d.repo, d.commit, json.dumps(d.config), _groups(d)),
    ),
    DesiredConfigRemoved: (
        """groups = '{}', drifted = false, differences = '[]', drifted_at = NULL,
           drift_resolved_how = NULL, desired_repo = NULL, desired_commit = NULL,
           desired = NULL, last_apply_error = NULL""",
        lambda d: (),
    ),
    DeviceDrifted: (
        "drifted = true, differences = $3, drifted_at = $2, drift_resolved_how = NULL",
        lambda d: (json.dumps([f.model_dump(mode="json") for f in d.differences]),),
    ),
    DriftResolved: (
        "drifted = false, differences = '[]', drift_resolved_how = $3",
        lambda d: (d.how,),
    ),
    DeviceConfigApplied: (
        """last_applied_at = $2, last_applied_commit = coalesce($3, last_applied_commit),
           last_apply_error = NULL""",
        lambda d: (d.commit,),
    ),
    DeviceConfigApplyFailed: ("last_apply_error = $3", lambda d: (d.reason,)),
    DeviceConfigImported: ("last_imported_at = $2", lambda d: ()),
    DeviceConfigRestored: (
        "last_restored_at = $2, last_restored_backup = $3",
        lambda d: (d.backup_id,),
    ),
    FirmwareUpdateAvailable: (
        "firmware = $3, firmware_available = $4, firmware_channel = $5",
        lambda d: (version_of(d.current), version_of(d.available), d.channel),
    ),
    FirmwareUpdateStarted: (
        "firmware_updating = $3, firmware_error = NULL",
        lambda d: (version_of(d.to_version),),
    ),
    FirmwareUpdated: (
        """firmware = $3, firmware_updating = NULL, firmware_error = NULL,
           firmware_available = CASE WHEN firmware_available = $3 THEN NULL
                                     ELSE firmware_available END""",
        lambda d: (version_of(d.version),),
    ),
    FirmwareUpdateFailed: (
        "firmware_updating = NULL, firmware_error = $3",
        lambda d: (d.reason,),
    ),
    DeviceBackupTaken: (
        "firmware = coalesce($3, firmware)",
        lambda d: (version_of(d.firmware),),
    ),
}


async def _backup(conn: Any, data: DeviceBackupTaken, at: Any, seq: int) -> None:
    await conn.execute(
        """INSERT INTO device_backups (backup_id, seq, device_id, reason, cfg_rev, firmware,
                taken_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (backup_id) DO NOTHING""",
        data.backup_id,
        seq,
        data.device_id,
        data.reason,
        data.cfg_rev,
        version_of(data.firmware),
        at,
    )


Extra = Callable[[Any, Any, Any, int], Awaitable[None]]
EXTRA: dict[type[EventData], Extra] = {DeviceBackupTaken: _backup}


async def project(conn: Any, envelope: Envelope, seq: int) -> None:
    data = envelope.data
    change = CHANGES.get(type(data))
    if change is None:
        return
    device_id: str = data.device_id  # type: ignore[attr-defined]
    at = envelope.occurred_at
    await conn.execute(
        """INSERT INTO devices (device_id, seq, updated_at) VALUES ($1, $2, $3)
            ON CONFLICT (device_id) DO NOTHING""",
        device_id,
        seq,
        at,
    )
    assignments, values = change
    await conn.execute(
        f"UPDATE devices SET {assignments}, updated_at = $2 WHERE device_id = $1",  # noqa: S608 (no input in it)
        device_id,
        at,
        *values(data),
    )
    extra = EXTRA.get(type(data))
    if extra is not None:
        await extra(conn, data, at, seq)
