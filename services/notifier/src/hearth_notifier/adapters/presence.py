"""Whether a device or agent that went offline is back, from the live KV buckets.

``hearth_device_status`` holds each device's status as JSON with an ``online`` flag;
``hearth_agents`` holds a key per agent while its heartbeats continue.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from nats.js.errors import NotFoundError

from hearth_events import Envelope
from hearth_events.catalogue import AgentOffline, DeviceOffline
from hearth_events.jetstream import AGENTS_BUCKET, DEVICE_STATUS_BUCKET


class Presence(Protocol):
    async def back_online(self, envelope: Envelope) -> bool:
        """True if the device or agent this offline event is about is online again."""


class KvPresence:
    def __init__(self, js: Any) -> None:
        self._js = js

    async def _get(self, bucket: str, key: str) -> bytes | None:
        try:
            entry = await (await self._js.key_value(bucket)).get(key)
        except NotFoundError:
            return None
        value: bytes | None = entry.value
        return value

    async def back_online(self, envelope: Envelope) -> bool:
        data = envelope.data
        if isinstance(data, DeviceOffline):
            raw = await self._get(DEVICE_STATUS_BUCKET, data.device_id)
            try:
                return bool(raw) and bool(json.loads(raw or b"{}").get("online"))
            except (ValueError, AttributeError):
                return False
        if isinstance(data, AgentOffline):
            return bool(await self._get(AGENTS_BUCKET, data.agent_id))
        return False
