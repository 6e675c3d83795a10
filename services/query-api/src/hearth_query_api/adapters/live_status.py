"""The live status the device manager keeps per device in ``hearth_device_status`` (one
key per device, its id escaped as a subject token, compact JSON): read only."""

from __future__ import annotations

import json
from typing import Any, Protocol

from nats.js.errors import NotFoundError

from hearth_events import escape_token
from hearth_events.jetstream import DEVICE_STATUS_BUCKET


class LiveStatus(Protocol):
    async def get(self, device_id: str) -> dict[str, Any] | None:
        """The device's live status; None when the device manager has none."""


class KvLiveStatus:
    def __init__(self, js: Any) -> None:
        self._js = js
        self._kv: Any = None

    async def get(self, device_id: str) -> dict[str, Any] | None:
        try:
            if self._kv is None:
                self._kv = await self._js.key_value(DEVICE_STATUS_BUCKET)
            entry = await self._kv.get(escape_token(device_id))
        except NotFoundError:  # no bucket yet, or no key
            return None
        try:
            value = json.loads(entry.value or b"null")
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
