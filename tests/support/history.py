"""A realistic stretch of Hearth's life as events: targets, pushes, deployments (one fine,
one rolled back, one superseded), logs, backups, notifications, and a small Shelly fleet
(``tests/support/fleet.py``: every ``device.*`` event type)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hearth_events import Envelope, EventData, new_event
from hearth_events.catalogue import (
    BackupTaken,
    ChangedFile,
    CommitInfo,
    ConfigFetched,
    ConfigValidated,
    DeploymentFailed,
    DeploymentLogged,
    DeploymentPlanned,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentSuperseded,
    DeployRequested,
    FilesDeployed,
    HealthCheckFailed,
    HealthCheckPassed,
    LogLine,
    NotificationSent,
    PushReceived,
    RollbackCompleted,
    RollbackStarted,
    ServiceRestarted,
    TargetRegistered,
    TargetSpec,
    TargetUpdated,
)
from tests.support.fleet import fleet_events
from tests.support.github import sha

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def spec(name: str, **changes: object) -> TargetSpec:
    base: dict[str, object] = {
        "name": name,
        "kind": "homeassistant",
        "host": f"{name}.lan",
        "user": "hearth",
        "key_secret": "ssh-key",
        "remote_path": "/config",
        "repo": "alice/home-config",
        "subdirectory": name,
        "ha_url": f"http://{name}.lan:8123",
        "ha_token_secret": "ha",
    }
    return TargetSpec.model_validate({**base, **changes})


def deployment(n: int, target: str, commit: str, outcome: str) -> list[EventData]:
    d = {"deployment_id": f"dep-{n}", "target": target}
    steps: list[EventData] = [
        DeployRequested(
            **d, repo="alice/home-config", commit=commit, branch="main", trigger="push"
        ),
    ]
    if outcome == "superseded":
        return [*steps, DeploymentSuperseded(**d, superseded_by=f"dep-{n + 1}")]
    steps += [
        DeploymentStarted(**d, commit=commit),
        ConfigFetched(**d, commit=commit, files=400, bytes=812_000),
        ConfigValidated(**d, files_checked=400),
        DeploymentPlanned(
            **d,
            changed=(ChangedFile(path="automations.yaml", sha256=sha("x"), size=120, mode=0o644),),
            diff="--- a/automations.yaml\n+++ b/automations.yaml\n@@\n-a\n+b\n",
        ),
        BackupTaken(
            **d,
            backup_id=f"bk-{n}",
            remote_path=f"/config/.hearth-backups/bk-{n}.tgz",
            sha256=sha(f"bk{n}"),
            files=1,
            bytes=120,
        ),
        FilesDeployed(**d, written=1, removed=0, bytes=120),
        ServiceRestarted(**d, service="homeassistant", method="reload", domains=("automation",)),
        DeploymentLogged(
            **d,
            lines=tuple(
                LogLine(
                    at=START + timedelta(minutes=n, seconds=i),
                    step="upload",
                    message=f"line {i} of dep-{n}",
                )
                for i in range(3)
            ),
        ),
    ]
    if outcome == "ok":
        return [
            *steps,
            HealthCheckPassed(**d, check="api", duration_ms=900),
            DeploymentSucceeded(**d, commit=commit, duration_ms=4200),
        ]
    return [
        *steps,
        HealthCheckFailed(**d, check="api", detail="not RUNNING", duration_ms=120_000),
        RollbackStarted(**d, backup_id=f"bk-{n}"),
        RollbackCompleted(**d, backup_id=f"bk-{n}"),
        DeploymentFailed(**d, step="health_check", reason="not RUNNING", rolled_back=True),
    ]


def history() -> list[Envelope]:
    datas: list[EventData] = [
        TargetRegistered(target="ha", spec=spec("ha")),
        TargetRegistered(target="garage", spec=spec("garage")),
        TargetUpdated(
            target="garage", spec=spec("garage", branch="stable"), changed_fields=("branch",)
        ),
        PushReceived(
            delivery_id="d-1",
            repo="alice/home-config",
            ref="refs/heads/main",
            branch="main",
            before=sha("0"),
            after=sha("1"),
            pusher="alice",
            commits=(CommitInfo(id=sha("1"), message="lights", modified=("ha/automations.yaml",)),),
        ),
        *deployment(1, "ha", sha("1"), "ok"),
        *deployment(2, "garage", sha("1"), "superseded"),
        *deployment(3, "garage", sha("2"), "rolled_back"),
        NotificationSent(
            notification_id="n-1",
            route="default",
            scheme="json",
            event_ids=("x",),
            title="❌ Deployment to garage failed",
        ),
        *fleet_events(last_seen=START + timedelta(minutes=5)),
    ]
    return [
        new_event(
            data,
            source="history",
            actor="github:alice",
            occurred_at=START + timedelta(seconds=i),
            correlation_id="d-1",
        )
        for i, data in enumerate(datas)
    ]
