"""Hearth's generated NATS users as a test server knows them, with test passwords."""

from __future__ import annotations

from hearth.embedded.nats import NatsUser
from hearth_events.permissions import all_users


def password(user: str) -> str:
    return f"pw-{user}"


def server_users() -> list[NatsUser]:
    """Every service's user, the admin and the inspector, each with ``password(name)``."""
    return [
        NatsUser(
            u.name,
            password(u.name),
            u.publish_allow,
            u.subscribe_allow,
            u.publish_deny,
            u.allow_responses,
        )
        for u in all_users()
    ]
