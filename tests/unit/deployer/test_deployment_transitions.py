"""Every command of the Deployment aggregate in every state it can stand in, in memory.

A state is the path of commands that leads to it; ``LEGAL`` names, per state, the commands
it accepts. Every other command must be refused with ``IllegalTransition`` and change
nothing; every accepted one records its named event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hearth_deployer.domain import Deployment, IllegalTransition
from hearth_events.catalogue import (
    BackupTaken,
    ConfigFetched,
    ConfigValidated,
    DeploymentCancelled,
    DeploymentFailed,
    DeploymentPlanned,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentWaiting,
    DeployRequested,
    FilesDeployed,
    HealthCheckFailed,
    HealthCheckPassed,
    HostCheckPassed,
    LogLine,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
    ServiceRestarted,
    ValidationFailed,
)
from hearth_eventstore.store import HearthAggregate, Meta

META = Meta(actor="test")
IDS = {"deployment_id": "d-1", "target": "ha"}
SHA = "a" * 40
BACKUP = {"backup_id": "b1", "archive": "/b/b1.tar.gz"}
WHEN = "2026-01-01T00:00:00Z"

Command = Callable[[Deployment], None]

#: Every command, with the event it records last (a catalogue type or a bookkeeping event).
COMMANDS: dict[str, tuple[Command, str]] = {
    "request_deploy": (
        lambda d: d.request_deploy(DeployRequested(**IDS, repo="home", trigger="push"), META),
        "DeployRequested",
    ),
    "wait": (
        lambda d: d.wait(DeploymentWaiting(**IDS, waiting_for=("key",), reason="key"), META),
        "DeploymentWaiting",
    ),
    "supersede": (lambda d: d.supersede("d-2", META), "DeploymentSuperseded"),
    "start": (lambda d: d.start(DeploymentStarted(**IDS), META), "DeploymentStarted"),
    "fetched": (
        lambda d: d.fetched(ConfigFetched(**IDS, commit=SHA, files=1, bytes=1), META),
        "ConfigFetched",
    ),
    "validated": (
        lambda d: d.validated(ConfigValidated(**IDS, files_checked=1), META),
        "ConfigValidated",
    ),
    "validation_failed": (
        lambda d: d.validation_failed(ValidationFailed(**IDS, errors=()), META),
        "ValidationFailed",
    ),
    "planned": (lambda d: d.planned(DeploymentPlanned(**IDS), META), "DeploymentPlanned"),
    "backed_up": (
        lambda d: d.backed_up(
            BackupTaken(**IDS, backup_id="b1", remote_path="/b", sha256="0", files=1, bytes=1),
            BACKUP,
            META,
        ),
        "BackupTaken",
    ),
    "begin_upload": (lambda d: d.begin_upload(["a.yaml"], ["a.yaml"]), "UploadBegun"),
    "uploaded": (
        lambda d: d.uploaded(FilesDeployed(**IDS, written=1, removed=0, bytes=1), META),
        "FilesDeployed",
    ),
    "host_checked": (
        lambda d: d.host_checked(HostCheckPassed(**IDS, check="check_config"), META),
        "HostCheckPassed",
    ),
    "service_restarted": (
        lambda d: d.service_restarted(ServiceRestarted(**IDS, service="ha"), META),
        "ServiceRestarted",
    ),
    "healthy": (
        lambda d: d.health_checked(HealthCheckPassed(**IDS, check="api", duration_ms=1), META),
        "HealthCheckPassed",
    ),
    "unhealthy": (
        lambda d: d.health_checked(
            HealthCheckFailed(**IDS, check="api", detail="down", duration_ms=1), META
        ),
        "HealthCheckFailed",
    ),
    "log": (
        lambda d: d.log((LogLine.model_validate({"at": WHEN, "message": "hi"}),), META),
        "DeploymentLogged",
    ),
    "succeed": (
        lambda d: d.succeed(
            DeploymentSucceeded(**IDS, commit=SHA, duration_ms=1), META, managed=None
        ),
        "DeploymentSucceeded",
    ),
    "fail": (
        lambda d: d.fail(DeploymentFailed(**IDS, step="fetch", reason="no"), META),
        "DeploymentFailed",
    ),
    "ask_to_cancel": (lambda d: d.ask_to_cancel("stop"), "CancelAsked"),
    "cancel": (lambda d: d.cancel(DeploymentCancelled(**IDS), META), "DeploymentCancelled"),
    "begin_restore": (lambda d: d.begin_restore(BACKUP, ["a.yaml"]), "UploadBegun"),
    "roll_back": (
        lambda d: d.roll_back(RollbackStarted(**IDS, backup_id="b1"), META),
        "RollbackStarted",
    ),
    "rolled_back": (
        lambda d: d.rolled_back(RollbackCompleted(**IDS, backup_id="b1"), META),
        "RollbackCompleted",
    ),
    "rollback_failed": (
        lambda d: d.rollback_failed(RollbackFailed(**IDS, reason="no"), META),
        "RollbackFailed",
    ),
}

_UPLOADED = ["start", "fetched", "validated", "planned", "backed_up", "begin_upload", "uploaded"]
_RESTORING = ["start", "backed_up", "begin_restore"]

#: state: (kind, the commands that lead there)
STATES: dict[str, tuple[str, list[str]]] = {
    "new": ("deploy", []),
    "waiting": ("deploy", ["wait"]),
    "started": ("deploy", ["start"]),
    "fetched": ("deploy", ["start", "fetched"]),
    "validated": ("deploy", ["start", "fetched", "validated"]),
    "planned": ("deploy", ["start", "fetched", "validated", "planned"]),
    "backed_up": ("deploy", ["start", "fetched", "validated", "planned", "backed_up"]),
    "upload_begun": ("deploy", _UPLOADED[:-1]),
    "uploaded": ("deploy", _UPLOADED),
    "host_checked": ("deploy", [*_UPLOADED, "host_checked"]),
    "restarted": ("deploy", [*_UPLOADED, "host_checked", "service_restarted"]),
    "healthy": ("deploy", [*_UPLOADED, "service_restarted", "healthy"]),
    "cancel_asked": ("deploy", ["start", "ask_to_cancel"]),
    "rolling_back": ("deploy", [*_UPLOADED, "unhealthy", "roll_back"]),
    "succeeded": ("deploy", ["start", "fetched", "validated", "planned", "succeed"]),
    "failed": ("deploy", ["start", "fail"]),
    "cancelled": ("deploy", ["cancel"]),
    "superseded": ("deploy", ["supersede"]),
    "rolled_back": ("deploy", [*_UPLOADED, "unhealthy", "roll_back", "rolled_back"]),
    "rollback_failed": ("deploy", [*_UPLOADED[:-1], "rollback_failed"]),
    "restore_new": ("restore", []),
    "restore_started": ("restore", ["start"]),
    "restore_backed_up": ("restore", ["start", "backed_up"]),
    "restoring": ("restore", _RESTORING),
    "restore_rolling_back": ("restore", [*_RESTORING, "roll_back"]),
    "restore_restarted": ("restore", [*_RESTORING, "roll_back", "service_restarted"]),
    "restored": ("restore", [*_RESTORING, "roll_back", "service_restarted", "rolled_back"]),
}

_ANY_LIVE = {"log", "fail", "ask_to_cancel"}
_BEFORE_START = {"wait", "supersede", "start", "cancel", *_ANY_LIVE}
_HOST_TOUCHED = {"roll_back", "rollback_failed", *_ANY_LIVE}
_AFTER_UPLOAD = {"host_checked", "service_restarted", "healthy", "unhealthy", *_HOST_TOUCHED}
_ROLLING_BACK = {"service_restarted", "rolled_back", "rollback_failed", *_ANY_LIVE}
_ENDED = {"log"}

LEGAL: dict[str, set[str]] = {
    "new": {"request_deploy", *_BEFORE_START},
    "waiting": _BEFORE_START,
    "started": {"fetched", *_ANY_LIVE},
    "fetched": {"validated", "validation_failed", *_ANY_LIVE},
    "validated": {"planned", "succeed", *_ANY_LIVE},
    "planned": {"backed_up", "succeed", *_ANY_LIVE},
    "backed_up": {"begin_upload", *_ANY_LIVE},
    "upload_begun": {"uploaded", *_HOST_TOUCHED},
    "uploaded": _AFTER_UPLOAD,
    "host_checked": _AFTER_UPLOAD - {"host_checked"},
    "restarted": _AFTER_UPLOAD - {"host_checked"},
    "healthy": {"succeed", *_AFTER_UPLOAD},
    "cancel_asked": {"fetched", "cancel", *_ANY_LIVE},
    "rolling_back": _ROLLING_BACK,
    "succeeded": _ENDED,
    "failed": _ENDED,
    "cancelled": _ENDED,
    "superseded": _ENDED,
    "rolled_back": _ENDED,
    "rollback_failed": _ENDED,
    "restore_new": {"request_deploy", *_BEFORE_START},
    "restore_started": {"backed_up", *_ANY_LIVE},
    "restore_backed_up": {"backed_up", "begin_restore", *_ANY_LIVE},
    "restoring": _HOST_TOUCHED,
    "restore_rolling_back": _ROLLING_BACK,
    "restore_restarted": _ROLLING_BACK,
    "restored": _ENDED,
}

CASES = [(state, command) for state in STATES for command in COMMANDS]


def in_state(state: str) -> Deployment:
    kind, path = STATES[state]
    deployment = Deployment("d-1", "ha", kind, {"commit": None})
    for step in path:
        COMMANDS[step][0](deployment)
    return deployment


def event_name(event: object) -> str:
    if isinstance(event, HearthAggregate.Recorded):
        return event.type_name
    return type(event).__name__


def snapshot(deployment: Deployment) -> dict[str, Any]:
    return {k: v for k, v in vars(deployment).items() if k != "_pending_events"}


def test_the_table_names_every_state_and_only_known_commands() -> None:
    assert set(LEGAL) == set(STATES)
    assert set().union(*LEGAL.values()) <= set(COMMANDS)
    assert set(COMMANDS) <= set().union(*LEGAL.values())  # every command is legal somewhere


@pytest.mark.parametrize(("state", "command"), CASES, ids=[f"{s}-{c}" for s, c in CASES])
def test_a_command_is_taken_or_refused_as_the_table_says(state: str, command: str) -> None:
    deployment = in_state(state)
    before = snapshot(deployment)
    pending = len(deployment.collect_events())
    assert pending == len(STATES[state][1]) + 1 + (
        sum(1 for step in STATES[state][1] if step in {"backed_up", "begin_restore"})
    )
    call, recorded = COMMANDS[command]
    if command in LEGAL[state]:
        call(deployment)
        events = deployment.collect_events()
        assert events, f"{command} in {state} recorded nothing"
        assert event_name(events[-1]) == recorded
        assert deployment.version == before["_version"] + len(events)
    else:
        with pytest.raises(IllegalTransition, match=r"^cannot .*: deployment d-1 "):
            call(deployment)
        assert deployment.collect_events() == []
        assert snapshot(deployment) == before


def test_a_deployment_is_not_changed_by_a_bare_catalogue_event() -> None:
    deployment = in_state("new")
    with pytest.raises(TypeError):
        deployment.record(DeploymentStarted(**IDS), META)


def test_a_command_refuses_an_event_of_another_deployment() -> None:
    deployment = in_state("new")
    other = DeploymentStarted(deployment_id="d-9", target="ha")
    with pytest.raises(IllegalTransition, match="is not the deployment it names"):
        deployment.start(other, META)


def test_a_refusal_says_what_and_why() -> None:
    deployment = in_state("backed_up")
    with pytest.raises(IllegalTransition) as refused:
        COMMANDS["uploaded"][0](deployment)
    assert str(refused.value) == "cannot record an upload: deployment d-1 has not begun its upload"
