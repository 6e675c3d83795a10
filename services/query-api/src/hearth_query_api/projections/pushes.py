"""Pushes seen by the webhook gateway or by polling."""

from __future__ import annotations

from typing import Any

from hearth_events import Envelope
from hearth_events.catalogue import PushReceived


async def project(conn: Any, envelope: Envelope, seq: int) -> None:
    data = envelope.data
    if not isinstance(data, PushReceived):
        return
    await conn.execute(
        """INSERT INTO pushes (event_id, seq, repo, ref, branch, tag, before, after,
                pusher, source, commits, deleted, received_at, delivery_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            ON CONFLICT (event_id) DO NOTHING""",
        envelope.event_id,
        seq,
        data.repo,
        data.ref,
        data.branch,
        data.tag,
        data.before,
        data.after,
        data.pusher,
        data.source,
        len(data.commits),
        data.deleted,
        envelope.occurred_at,
        data.delivery_id,
    )
