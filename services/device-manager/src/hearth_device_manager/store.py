"""The device-manager's event store: its aggregates live in the `device_manager` schema."""

from __future__ import annotations

from hearth_eventstore.store import HearthApplication

SCHEMA = "device_manager"


class DeviceManagerApplication(HearthApplication):
    """Aggregates are added here as the device-manager's domain grows."""
