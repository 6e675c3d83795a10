"""Staged firmware rollouts and the progress of each of their devices.

A rollout names its waves when it starts (wave 0 holds the canaries; a wave's number is
its index in ``waves``); every device begins ``pending``. A device's own firmware events
(which carry no rollout id) move it in the rollout that is running and holds it:
``updating`` → ``updated`` or ``failed``. The rollout ends ``completed`` (its skipped
devices say so) or ``halted`` at the device that failed.
"""

from __future__ import annotations

import json
from typing import Any

from hearth_events import Envelope
from hearth_events.catalogue import (
    FirmwareRolloutCompleted,
    FirmwareRolloutHalted,
    FirmwareRolloutStarted,
    FirmwareRolloutWaveStarted,
    FirmwareUpdated,
    FirmwareUpdateFailed,
    FirmwareUpdateStarted,
)
from hearth_query_api.domain.firmware import version_of

#: A device's firmware event in the running rollout that holds it.
DEVICE_SQL = """
UPDATE rollout_devices SET status = $2, at = $3, from_version = coalesce($4, from_version),
        to_version = coalesce($5, to_version), reason = $6
 WHERE device_id = $1 AND rollout_id IN (SELECT rollout_id FROM rollouts WHERE status = 'running')
"""
MARK_SQL = """
UPDATE rollout_devices SET status = $3, at = $4, reason = coalesce($5, reason)
 WHERE rollout_id = $1 AND device_id = ANY($2::text[])
"""


async def _started(conn: Any, envelope: Envelope, seq: int) -> None:
    data: FirmwareRolloutStarted = envelope.data  # type: ignore[assignment]
    await conn.execute(
        """INSERT INTO rollouts (rollout_id, seq, status, channel, waves, pause_s, versions,
                started_at, actor)
            VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8)
            ON CONFLICT (rollout_id) DO NOTHING""",
        data.rollout_id,
        seq,
        data.channel,
        len(data.waves),
        data.pause_s,
        json.dumps(data.versions),
        envelope.occurred_at,
        envelope.actor,
    )
    position = 0
    for wave, device_ids in enumerate(data.waves):
        for device_id in device_ids:
            await conn.execute(
                """INSERT INTO rollout_devices (rollout_id, device_id, wave, position, status)
                    VALUES ($1, $2, $3, $4, 'pending') ON CONFLICT DO NOTHING""",
                data.rollout_id,
                device_id,
                wave,
                position,
            )
            position += 1


async def _device(conn: Any, envelope: Envelope) -> None:
    data = envelope.data
    values: tuple[str, str | None, str | None, str | None]
    if isinstance(data, FirmwareUpdateStarted):
        values = ("updating", version_of(data.from_version), version_of(data.to_version), None)
    elif isinstance(data, FirmwareUpdated):
        values = ("updated", None, version_of(data.version), None)
    else:
        assert isinstance(data, FirmwareUpdateFailed)
        values = (
            "failed",
            version_of(data.from_version),
            version_of(data.to_version),
            data.reason,
        )
    await conn.execute(
        DEVICE_SQL,
        data.device_id,
        values[0],
        envelope.occurred_at,
        *values[1:],
    )


async def _ended(conn: Any, envelope: Envelope) -> None:
    data = envelope.data
    at = envelope.occurred_at
    if isinstance(data, FirmwareRolloutCompleted):
        await conn.execute(
            "UPDATE rollouts SET status = 'completed', finished_at = $2 WHERE rollout_id = $1",
            data.rollout_id,
            at,
        )
        await conn.execute(MARK_SQL, data.rollout_id, list(data.updated), "updated", at, None)
        await conn.execute(MARK_SQL, data.rollout_id, list(data.skipped), "skipped", at, None)
        return
    assert isinstance(data, FirmwareRolloutHalted)
    await conn.execute(
        """UPDATE rollouts SET status = 'halted', finished_at = $2, current_wave = $3,
                halted_device = $4, reason = $5
            WHERE rollout_id = $1""",
        data.rollout_id,
        at,
        data.wave,
        data.device_id,
        data.reason,
    )
    await conn.execute(MARK_SQL, data.rollout_id, list(data.updated), "updated", at, None)
    await conn.execute(
        MARK_SQL + " AND status <> 'failed'",
        data.rollout_id,
        [data.device_id],
        "failed",
        at,
        data.reason,
    )


async def project(conn: Any, envelope: Envelope, seq: int) -> None:
    data = envelope.data
    if isinstance(data, FirmwareRolloutStarted):
        await _started(conn, envelope, seq)
    elif isinstance(data, FirmwareRolloutWaveStarted):
        await conn.execute(
            "UPDATE rollouts SET current_wave = $2 WHERE rollout_id = $1",
            data.rollout_id,
            data.wave,
        )
    elif isinstance(data, FirmwareUpdateStarted | FirmwareUpdated | FirmwareUpdateFailed):
        await _device(conn, envelope)
    elif isinstance(data, FirmwareRolloutCompleted | FirmwareRolloutHalted):
        await _ended(conn, envelope)
