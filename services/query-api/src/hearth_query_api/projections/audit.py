"""The audit log: every event, searchable by type, key, correlation and time."""

from __future__ import annotations

from typing import Any

from hearth_events import Envelope


async def project(conn: Any, envelope: Envelope, seq: int) -> None:
    await conn.execute(
        """INSERT INTO events (seq, event_id, type, context, key, occurred_at, actor,
                source, correlation_id, causation_id, data)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (event_id) DO NOTHING""",
        seq,
        envelope.event_id,
        envelope.type,
        envelope.data.context,
        envelope.key,
        envelope.occurred_at,
        envelope.actor,
        envelope.source,
        envelope.correlation_id,
        envelope.causation_id,
        envelope.data.model_dump_json(),
    )
