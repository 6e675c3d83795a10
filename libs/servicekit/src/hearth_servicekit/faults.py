"""Fault injection for crash tests: make a real process die exactly where a test says.

``HEARTH_FAULT=<point>[@<n>]:<action>[,...]`` arms named points; code marks them with
``fault_point("relay.after_publish_before_position")``. Actions:

- ``kill``: write the marker, then SIGKILL this process (no cleanup, no ``finally``).
- ``pause``: write the marker, then block this thread forever, so the test kills the
  process at exactly that point.
- ``mark``: write the marker and go on (a test's proof that the path ran).

``@n`` fires at the n-th pass of that point only (default: the first). The marker is one
line ``<point> <action> <pid>`` appended to the file named by ``HEARTH_FAULT_READY``, or
written to stderr when that is unset. With ``HEARTH_FAULT`` unset a point costs one
truthiness check; the variable is parsed once, on the first point reached.

``POINTS`` lists every point in the code, by component; the crash tests and
``python -m bench faults`` draw from it, and a unit test checks that each one is marked
in the source exactly once.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass

FAULT_ENV = "HEARTH_FAULT"
READY_ENV = "HEARTH_FAULT_READY"
ACTIONS = ("kill", "pause", "mark")

#: Every fault point, by component, in the order a run passes them.
POINTS: dict[str, tuple[str, ...]] = {
    "relay": (
        "relay.leader_acquired",
        "relay.lock_busy",
        "relay.before_publish",
        "relay.after_publish_before_position",
        "relay.after_position",
        "relay.duplicate_acked",
    ),
    "deploy": (
        # Up to the upload's beginning a step is recorded on the run's copy and held: it is
        # stored with the upload's beginning (or log_held_s later, or on a failure).
        "deploy.started",  # DeploymentStarted recorded (held)
        "deploy.fetched",  # ConfigFetched recorded (held)
        "deploy.validated",  # ConfigValidated recorded (held)
        "deploy.planned",  # DeploymentPlanned recorded (held); the host untouched
        "deploy.staged",  # the upload streams into a staging directory (if any)
        "deploy.backed_up",  # BackupTaken recorded (held)
        "deploy.upload_begun",  # stored: the steps held and the upload's beginning; no file yet
        "deploy.uploaded",  # new files in place, removals not yet done: a mix on the host
        "deploy.files_deployed",  # FilesDeployed recorded
        "deploy.host_checked",  # the host accepted the files (HA check_config)
        "deploy.restarted",  # ServiceRestarted recorded
        "deploy.health_check_failed",  # HealthCheckFailed recorded, rollback not begun
        # HealthCheckPassed and DeploymentSucceeded recorded (one write), lease not released
        "deploy.succeeded",
    ),
    "rollback": (
        "rollback.safety_backed_up",  # a restore run kept a backup of the current files
        "rollback.restore_begun",  # a restore run marked its restore as begun
        "rollback.started",  # RollbackStarted recorded
        "rollback.files_restored",  # the backup is back on the host (also compensation)
        "rollback.restarted",  # restarted on the old files
        "rollback.completed",  # RollbackCompleted recorded
    ),
    "notify": (
        "notify.before_send",
        "notify.after_send_before_record",  # delivered, NotificationSent not yet stored
        "notify.after_record_before_ack",  # NotificationSent stored, the event not acked
    ),
    "project": (
        "project.batch_partly_written",  # some of a batch's rows written, not all
        "project.applied_before_commit",  # rows written, the transaction not committed
        "project.committed_before_ack",  # committed, the events not acked
    ),
}


@dataclass(frozen=True)
class Fault:
    point: str
    action: str
    nth: int = 1


def parse_faults(spec: str) -> dict[str, Fault]:
    """``"a:kill,b@3:pause"`` -> faults by point; a bad entry raises a one-line ValueError."""
    faults: dict[str, Fault] = {}
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        target, sep, action = entry.rpartition(":")
        point, at, count = target.partition("@")
        if not sep or not point or action not in ACTIONS:
            raise ValueError(
                f"{FAULT_ENV}: bad entry {entry!r}; expected <point>[@<n>]:<kill|pause|mark>"
            )
        if at and not (count.isdigit() and int(count) >= 1):
            raise ValueError(f"{FAULT_ENV}: bad pass count in {entry!r}; expected @1, @2, ...")
        if point in faults:
            raise ValueError(f"{FAULT_ENV}: point {point!r} is named twice")
        faults[point] = Fault(point, action, int(count) if at else 1)
    return faults


_faults: dict[str, Fault] | None = None
_passes: dict[str, int] = {}


def _armed() -> dict[str, Fault]:
    global _faults
    if _faults is None:
        _faults = parse_faults(os.environ.get(FAULT_ENV, ""))
    return _faults


def reset() -> None:
    """Forget the parsed variable and pass counts (tests that change the environment)."""
    global _faults
    _faults = None
    _passes.clear()


def fault_point(point: str) -> None:
    """Kill, pause or mark here if ``HEARTH_FAULT`` arms ``point`` for this pass."""
    faults = _faults if _faults is not None else _armed()
    if not faults:
        return
    fault = faults.get(point)
    if fault is None:
        return
    passes = _passes[point] = _passes.get(point, 0) + 1
    if passes != fault.nth:
        return
    _write_marker(f"{point} {fault.action} {os.getpid()}\n")
    if fault.action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault.action == "pause":
        while True:
            time.sleep(3600)


def _write_marker(line: str) -> None:
    path = os.environ.get(READY_ENV)
    if not path:
        sys.stderr.write(line)
        sys.stderr.flush()
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
