"""Writes each device's compact status to the ``hearth_device_status`` KV bucket: one key
per device (its id escaped as a subject token), only when the value changed."""

from __future__ import annotations

import json
from typing import Any

from hearth_events import escape_token
from hearth_events.jetstream import DEVICE_STATUS_BUCKET


def status_key(device_id: str) -> str:
    return escape_token(device_id)


class KvStatusWriter:
    def __init__(self, js: Any) -> None:
        self._js = js
        self._kv: Any = None
        self._last: dict[str, bytes] = {}
        self.writes = 0

    async def write(self, device_id: str, status: dict[str, Any]) -> None:
        value = json.dumps(status, sort_keys=True, separators=(",", ":")).encode()
        key = status_key(device_id)
        if self._last.get(key) == value:
            return
        if self._kv is None:
            self._kv = await self._js.key_value(DEVICE_STATUS_BUCKET)
        await self._kv.put(key, value)
        self._last[key] = value
        self.writes += 1
