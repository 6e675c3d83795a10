"""The REST endpoints of ``/api/v1`` and their route table: reads from the read models,
one module per resource (targets, deployments, repositories, events, notifications,
devices and rollouts), commands as events (``commands.py``), the fleet's commands
forwarded to the device manager (``device_commands.py``; its routes in
``fleet_routes.py``)."""

from __future__ import annotations

from typing import Any

from hearth_query_api.adapters.live_status import LiveStatus
from hearth_query_api.entrypoints.api.commands import V1, Commands
from hearth_query_api.entrypoints.api.deployments import DeploymentReads
from hearth_query_api.entrypoints.api.device_commands import DeviceCommands
from hearth_query_api.entrypoints.api.devices import DeviceReads
from hearth_query_api.entrypoints.api.events import EventReads
from hearth_query_api.entrypoints.api.fleet_routes import fleet_routes
from hearth_query_api.entrypoints.api.framework import Route
from hearth_query_api.entrypoints.api.models import (
    AcceptedOut,
    BackupOut,
    CancelIn,
    DeployIn,
    DeploymentDetailOut,
    DeploymentOut,
    EventOut,
    ItemsOut,
    NotifyTestIn,
    NotifyTestOut,
    Page,
    PushOut,
    RollbackIn,
    StatsOut,
    TargetOut,
)
from hearth_query_api.entrypoints.api.notifications import NotificationCommands
from hearth_query_api.entrypoints.api.queries import (
    DeploymentQuery,
    EventQuery,
    FeedQuery,
    RepoFilter,
    TargetFilter,
)
from hearth_query_api.entrypoints.api.repositories import PushReads
from hearth_query_api.entrypoints.api.targets import TargetReads
from hearth_query_api.entrypoints.feed import Broadcaster
from hearth_servicekit.publishing import EventSink


class Endpoints(
    TargetReads,
    DeploymentReads,
    PushReads,
    EventReads,
    DeviceReads,
    NotificationCommands,
    DeviceCommands,
    Commands,
):
    def __init__(self, pool: Any, sink: EventSink, source: str) -> None:
        self.pool = pool
        self.sink = sink
        self.source = source
        self.broadcaster = Broadcaster()
        self.nc: Any = None
        self.live: LiveStatus | None = None

    def routes(self) -> list[Route]:
        return [
            Route(
                "GET",
                f"{V1}/targets",
                "viewer",
                "Every target and its status",
                self.list_targets,
                ItemsOut[TargetOut],
                tags=("targets",),
            ),
            Route(
                "GET",
                f"{V1}/targets/{{name}}",
                "viewer",
                "One target",
                self.get_target,
                TargetOut,
                tags=("targets",),
            ),
            Route(
                "POST",
                f"{V1}/targets/{{name}}/rollback",
                "operator",
                "Roll a target back to a backup or a commit",
                self.request_rollback,
                AcceptedOut,
                body=RollbackIn,
                status=202,
                tags=("commands",),
            ),
            Route(
                "GET",
                f"{V1}/deployments",
                "viewer",
                "Deployments, newest first",
                self.list_deployments,
                Page[DeploymentOut],
                query=DeploymentQuery,
                tags=("deployments",),
            ),
            Route(
                "POST",
                f"{V1}/deployments",
                "operator",
                "Deploy a commit or branch",
                self.request_deploy,
                AcceptedOut,
                body=DeployIn,
                status=202,
                tags=("commands",),
            ),
            Route(
                "GET",
                f"{V1}/deployments/stats",
                "viewer",
                "Success rate, mean time to deploy and rollbacks per target",
                self.deployment_stats,
                StatsOut,
                tags=("deployments",),
            ),
            Route(
                "GET",
                f"{V1}/deployments/{{id}}",
                "viewer",
                "One deployment with its steps, logs, plan and diff",
                self.get_deployment,
                DeploymentDetailOut,
                tags=("deployments",),
            ),
            Route(
                "POST",
                f"{V1}/deployments/{{id}}/cancel",
                "operator",
                "Cancel a deployment (rolled back if it touched the target)",
                self.request_cancel,
                AcceptedOut,
                body=CancelIn,
                status=202,
                tags=("commands",),
            ),
            Route(
                "GET",
                f"{V1}/backups",
                "viewer",
                "Backups, newest first",
                self.list_backups,
                ItemsOut[BackupOut],
                query=TargetFilter,
                tags=("targets",),
            ),
            Route(
                "GET",
                f"{V1}/pushes",
                "viewer",
                "Pushes, newest first",
                self.list_pushes,
                Page[PushOut],
                query=RepoFilter,
                tags=("git",),
            ),
            Route(
                "POST",
                f"{V1}/notifications/test",
                "admin",
                "Send a test notification through a route (or all) and report per URL",
                self.test_notifications,
                NotifyTestOut,
                body=NotifyTestIn,
                tags=("notifications",),
            ),
            Route(
                "GET",
                f"{V1}/events/stream",
                "viewer",
                "Live feed of new events (Server-Sent Events, resumable with Last-Event-ID)",
                self.stream_events,
                query=FeedQuery,
                tags=("events",),
                media_type="text/event-stream",
            ),
            Route(
                "GET",
                f"{V1}/events",
                "viewer",
                "The audit log, newest first",
                self.list_events,
                Page[EventOut],
                query=EventQuery,
                tags=("events",),
            ),
            *fleet_routes(self),
        ]
