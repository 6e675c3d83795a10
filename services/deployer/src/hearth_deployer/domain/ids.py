"""Where each aggregate of the deployer lives: stable ids derived from names."""

from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID("6f1d3c2a-8e0b-4f4e-9a57-1f3b8c0d2e71")
TARGETS_ID = uuid5(NAMESPACE, "targets")
KNOWN_HOSTS_ID = uuid5(NAMESPACE, "known-hosts")


def deployment_uuid(deployment_id: str) -> UUID:
    return uuid5(NAMESPACE, f"deployment:{deployment_id}")


def line_uuid(target: str) -> UUID:
    return uuid5(NAMESPACE, f"line:{target}")
