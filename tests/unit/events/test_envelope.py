import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from hearth_events import (
    BadEvent,
    EventData,
    all_event_classes,
    derived_event_id,
    new_event,
    parse_event,
    to_message,
    uuid7,
)
from hearth_events.catalogue import DeploymentFailed, PushReceived
from hearth_events.upcasting import missing_upcasters


def sample(cls: type[EventData]) -> EventData:
    """A valid instance of any catalogue class, built from its JSON schema's required fields."""
    schema = cls.model_json_schema()
    values: dict[str, Any] = {}
    for name in schema.get("required", []):
        values[name] = _value_for(cls.model_fields[name].annotation, name)
    return cls.model_validate(values)


def _value_for(annotation: Any, name: str) -> Any:
    import typing

    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(annotation)
        return [_value_for(inner, name)]
    if origin is dict:
        return {"switch:0": {"name": "Lamp"}}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {
            field: _value_for(info.annotation, field)
            for field, info in annotation.model_fields.items()
            if info.is_required()
        }
    if annotation is int:
        return 3
    if annotation is bool:
        return True
    if annotation is datetime:
        return "2026-11-22T10:00:00+00:00"
    if name == "kind":
        return "files"
    if name in ("commit", "before", "after", "id"):
        return "0" * 40  # a GitSha (any str field takes it too)
    return f"{name}-value"


@pytest.mark.parametrize("type_name", sorted(all_event_classes()))
def test_every_event_type_round_trips_through_json(type_name: str) -> None:
    cls = all_event_classes()[type_name]
    data = sample(cls)
    envelope = new_event(data, source="test", actor="tester")
    message = to_message(envelope)
    parsed = parse_event(message.payload)
    assert parsed == envelope
    assert message.payload == envelope.model_dump_json().encode()  # pydantic's own JSON
    assert type(parsed.data) is cls
    assert message.headers["Nats-Msg-Id"] == str(envelope.event_id)
    assert message.headers["Hearth-Event-Type"] == type_name
    assert message.subject.startswith(f"hearth.evt.{cls.context}.{type_name}.")


def test_catalogue_covers_the_architecture() -> None:
    names = set(all_event_classes())
    for required in [
        "PushReceived",
        "CiCompleted",
        "TargetRegistered",
        "TargetUpdated",
        "TargetRemoved",
        "DeployRequested",
        "DeploymentStarted",
        "ConfigFetched",
        "ConfigValidated",
        "ValidationFailed",
        "DeploymentPlanned",
        "BackupTaken",
        "FilesDeployed",
        "HostCheckPassed",
        "HostCheckFailed",
        "ServiceRestarted",
        "HealthCheckPassed",
        "HealthCheckFailed",
        "DeploymentSucceeded",
        "DeploymentFailed",
        "DeploymentSuperseded",
        "DeploymentCancelled",
        "RollbackRequested",
        "RollbackStarted",
        "RollbackCompleted",
        "RollbackFailed",
        "DeploymentLogged",
        "DeviceDiscovered",
        "DeviceAdopted",
        "DeviceOnline",
        "DeviceOffline",
        "DesiredConfigChanged",
        "DeviceDrifted",
        "DriftResolved",
        "DeviceConfigApplied",
        "DeviceConfigApplyFailed",
        "DeviceConfigImported",
        "FirmwareUpdateAvailable",
        "FirmwareUpdateStarted",
        "FirmwareUpdated",
        "AgentRegistered",
        "AgentOnline",
        "AgentOffline",
        "ProvisionRequested",
        "ProvisionClaimed",
        "ProvisionStepCompleted",
        "DeviceProvisioned",
        "ProvisionFailed",
        "NotificationSent",
        "NotificationFailed",
    ]:
        assert required in names


def test_every_schema_version_has_its_upcasters() -> None:
    versions = {n: c.schema_version for n, c in all_event_classes().items()}
    assert missing_upcasters(versions) == []


def test_a_chain_correlates_with_its_first_event() -> None:
    first = new_event(
        PushReceived(
            delivery_id="d", repo="r", ref="refs/heads/main", before="0" * 40, after="1" * 40
        ),
        source="gw",
        actor="x",
    )
    assert first.correlation_id == str(first.event_id)
    second = new_event(
        DeploymentFailed(deployment_id="d1", target="ha", step="upload", reason="disk full"),
        source="deployer",
        actor="deployer",
        correlation_id=first.correlation_id,
        causation_id=str(first.event_id),
    )
    assert second.correlation_id == first.correlation_id
    assert second.headers()["Hearth-Correlation-Id"] == first.correlation_id


def test_events_are_frozen() -> None:
    event = DeploymentFailed(deployment_id="d1", target="ha", step="upload", reason="x")
    with pytest.raises(Exception, match="frozen"):
        event.reason = "y"  # type: ignore[misc]


def test_occurred_at_is_utc() -> None:
    env = new_event(
        DeploymentFailed(deployment_id="d", target="t", step="fetch", reason="r"),
        source="s",
        actor="a",
    )
    assert env.occurred_at.tzinfo is not None
    assert env.occurred_at.utcoffset() == UTC.utcoffset(None)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"type": "PushReceived"}', "integer 'schema_version'"),
        (b'{"type": "NoSuchEvent", "schema_version": 1, "data": {}}', "unknown event type"),
        (b'{"type": "PushReceived", "schema_version": 9, "data": {}}', "newer Hearth"),
        (b'{"type": "PushReceived", "schema_version": 1, "data": {"repo": 1}}', "is invalid"),
    ],
)
def test_bad_payloads_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(BadEvent, match=reason):
        parse_event(payload)


def test_unknown_fields_are_refused() -> None:
    env = new_event(
        DeploymentFailed(deployment_id="d", target="t", step="fetch", reason="r"),
        source="s",
        actor="a",
    )
    raw = json.loads(env.to_json())
    raw["data"]["surprise"] = True
    with pytest.raises(BadEvent, match="surprise"):
        parse_event(json.dumps(raw))


def test_uuid7_is_time_ordered_and_versioned() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.version == 7 for i in ids)


def test_derived_ids_are_stable_distinct_and_shaped_like_uuid7() -> None:
    a = derived_event_id("push", "me/ha", "0" * 40, "1" * 40)
    assert a == derived_event_id("push", "me/ha", "0" * 40, "1" * 40)
    assert a != derived_event_id("push", "me/ha", "1" * 40, "2" * 40)
    assert (a.version, a.variant) == (7, "specified in RFC 4122")
    # Parts are separated, so different splits of the same text differ.
    assert derived_event_id("ab", "c") != derived_event_id("a", "bc")
