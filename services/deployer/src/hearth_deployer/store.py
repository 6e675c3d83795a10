"""The deployer's event store: its aggregates live in the `deployer` schema."""

from __future__ import annotations

from hearth_eventstore.store import HearthApplication

SCHEMA = "deployer"


class DeployerApplication(HearthApplication):
    """Aggregates are added here as the deployer's domain grows."""
