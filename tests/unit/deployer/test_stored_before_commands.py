"""Aggregates stored before the deployer's aggregates had named events still load.

The records below are exactly what the deployer stored until then (one ``Noted`` event per
bookkeeping change, topics of the ``hearth_deployer.domain`` module), captured from that
code; users' data directories hold such records.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from hearth_deployer.domain import (
    KNOWN_HOSTS_ID,
    Deployment,
    KnownHosts,
    TargetLine,
    deployment_uuid,
    line_uuid,
)
from hearth_events.catalogue import DeploymentStarted
from hearth_eventstore.store import HearthAggregate

A, C = "a" * 40, "c" * 40
Records = list[tuple[str, dict[str, Any]]]
WHEN = {"_type_": "datetime_iso", "_data_": "2026-12-04T18:39:23.127328+00:00"}

OLD_DEPLOYMENT: Records = [
    (
        "hearth_deployer.domain:Deployment.Created",
        {
            "originator_topic": "hearth_deployer.domain:Deployment",
            "deployment_id": "d-old",
            "target": "ha",
            "kind": "deploy",
            "request": {"commit": A, "dry_run": False},
        },
    ),
    (
        "hearth_deployer.domain:Deployment.Recorded",
        {
            "type_name": "DeploymentStarted",
            "payload": {"deployment_id": "d-old", "target": "ha", "commit": A},
            "event_id": "01a2425a-97f7-7173-8b4e-d57f380b8aae",
            "correlation_id": "c1",
            "causation_id": None,
            "actor": "test",
        },
    ),
    (
        "hearth_deployer.domain:Deployment.Noted",
        {"kind": "backup_kept", "fields": {"info": {"backup_id": "b1", "archive": "/b/b1.tar.gz"}}},
    ),
    (
        "hearth_deployer.domain:Deployment.Noted",
        {
            "kind": "upload_begun",
            "fields": {"touched": ["a.yaml"], "managed_after": ["a.yaml", "b.yaml"]},
        },
    ),
    (
        "hearth_deployer.domain:Deployment.Noted",
        {"kind": "managed_known", "fields": {"managed": ["a.yaml"]}},
    ),
    (
        "hearth_deployer.domain:Deployment.Noted",
        {"kind": "cancel_asked", "fields": {"reason": "stop"}},
    ),
]
OLD_LINE: Records = [
    (
        "hearth_deployer.domain:TargetLine.Created",
        {"originator_topic": "hearth_deployer.domain:TargetLine", "target": "ha"},
    ),
    (
        "hearth_deployer.domain:TargetLine.Noted",
        {"kind": "queued", "fields": {"deployment_id": "d-old"}},
    ),
    (
        "hearth_deployer.domain:TargetLine.Noted",
        {"kind": "began", "fields": {"deployment_id": "d-old"}},
    ),
    (
        "hearth_deployer.domain:TargetLine.Noted",
        {"kind": "awaiting_ci", "fields": {"commit": C, "request": {"commit": C}}},
    ),
    (
        "hearth_deployer.domain:TargetLine.Noted",
        {"kind": "ci_finished", "fields": {"commit": C, "conclusion": "failure"}},
    ),
    (
        "hearth_deployer.domain:TargetLine.Noted",
        {"kind": "queued", "fields": {"deployment_id": "d-2"}},
    ),
    (
        "hearth_deployer.domain:TargetLine.Noted",
        {"kind": "dropped", "fields": {"deployment_id": "d-2"}},
    ),
    (
        "hearth_deployer.domain:TargetLine.Noted",
        {"kind": "ended", "fields": {"deployment_id": "d-old", "commit": A, "managed": ["a.yaml"]}},
    ),
]
OLD_KNOWN_HOSTS: Records = [
    (
        "hearth_deployer.domain:KnownHosts.Created",
        {"originator_topic": "hearth_deployer.domain:KnownHosts"},
    ),
    (
        "hearth_deployer.domain:KnownHosts.Noted",
        {
            "kind": "host_key_learned",
            "fields": {"host": "pi", "port": 22, "line": "pi ssh-ed25519 AAAA"},
        },
    ),
]


def stored(app: Application[UUID], aggregate_id: UUID, records: Records) -> None:
    """Insert records as the old code stored them (JSON of the event, timestamp first)."""
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=aggregate_id,
                originator_version=version,
                topic=topic,
                state=json.dumps({"timestamp": WHEN, **state}, separators=(",", ":")).encode(),
            )
            for version, (topic, state) in enumerate(records, start=1)
        ]
    )


def in_memory() -> Application[UUID]:
    return Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_a_deployment_stored_the_old_way_loads_where_it_stood() -> None:
    app = in_memory()
    stored(app, deployment_uuid("d-old"), OLD_DEPLOYMENT)
    d: Deployment = app.repository.get(deployment_uuid("d-old"))
    assert isinstance(d, Deployment)
    assert (d.deployment_id, d.target, d.kind, d.commit) == ("d-old", "ha", "deploy", A)
    assert d.started and d.has(DeploymentStarted)
    assert d.backup == {"backup_id": "b1", "archive": "/b/b1.tar.gz"}
    assert (d.upload_begun, d.touched, d.managed_after) == (True, ["a.yaml"], ["a.yaml"])
    assert d.cancel_reason == "stop"
    assert d.version == len(OLD_DEPLOYMENT)
    # The relay still sees the old catalogue event as one to publish.
    recorded = [
        e for e in app.repository.event_store.get(d.id) if isinstance(e, HearthAggregate.Recorded)
    ]
    assert [e.data().type_name() for e in recorded] == ["DeploymentStarted"]


def test_an_old_deployment_goes_on_with_the_new_commands() -> None:
    app = in_memory()
    stored(app, deployment_uuid("d-old"), OLD_DEPLOYMENT)
    d: Deployment = app.repository.get(deployment_uuid("d-old"))
    d.ask_to_cancel("again")
    app.save(d)
    again: Deployment = app.repository.get(deployment_uuid("d-old"))
    assert (again.cancel_reason, again.version) == ("again", len(OLD_DEPLOYMENT) + 1)


def test_a_target_line_stored_the_old_way_loads_where_it_stood() -> None:
    app = in_memory()
    stored(app, line_uuid("ha"), OLD_LINE)
    line: TargetLine = app.repository.get(line_uuid("ha"))
    assert isinstance(line, TargetLine)
    assert (line.active, line.waiting, line.commit, line.managed) == (None, None, A, ["a.yaml"])
    assert (line.awaiting_ci, line.ci_results) == ({}, {C: "failure"})


def test_known_hosts_stored_the_old_way_keep_their_keys() -> None:
    app = in_memory()
    stored(app, KNOWN_HOSTS_ID, OLD_KNOWN_HOSTS)
    known: KnownHosts = app.repository.get(KNOWN_HOSTS_ID)
    assert isinstance(known, KnownHosts)
    assert known.keys == {"pi:22": "pi ssh-ed25519 AAAA"}
    assert not known.learn("pi", 22, "pi ssh-ed25519 AAAA")
