"""Projections: each turns events into rows, inside the projector's transaction.

Everything a row holds comes from events (never the clock or a sequence of the database),
so a rebuild from the stream produces identical tables.
"""

from hearth_query_api.projections import (
    audit,
    deployments,
    devices,
    notifications,
    pushes,
    repositories,
    rollouts,
    targets,
)

PROJECTIONS = (
    audit.project,
    pushes.project,
    repositories.project,
    targets.project,
    deployments.project,
    notifications.project,
    devices.project,
    rollouts.project,
)

__all__ = ["PROJECTIONS"]
