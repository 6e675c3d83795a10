"""What reached people and what did not."""

from __future__ import annotations

from typing import Any

from hearth_events import Envelope
from hearth_events.catalogue import NotificationFailed, NotificationSent


async def project(conn: Any, envelope: Envelope, seq: int) -> None:
    data = envelope.data
    if not isinstance(data, NotificationSent | NotificationFailed):
        return
    await conn.execute(
        """INSERT INTO notifications (notification_id, route, scheme, ok, title,
                attempts, reason, event_ids, at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (notification_id) DO UPDATE SET ok = $4, attempts = $6, reason = $7,
                at = $9""",
        data.notification_id,
        data.route,
        data.scheme,
        isinstance(data, NotificationSent),
        data.title,
        data.attempts,
        getattr(data, "reason", None),
        list(data.event_ids),
        envelope.occurred_at,
    )
