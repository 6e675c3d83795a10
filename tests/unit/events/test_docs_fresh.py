"""The AsyncAPI document and the JSON Schemas in docs/ are generated, fresh and true."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from hearth_events import all_event_classes, new_event
from hearth_events.asyncapi import build_asyncapi, stale
from tests.unit.events.test_envelope import sample

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_docs_are_fresh() -> None:
    outdated = stale(DOCS)
    assert outdated == [], (
        f"stale: {[str(p) for p in outdated]}; "
        "run `uv run python -m hearth_events.asyncapi --write`"
    )


def test_the_asyncapi_document_covers_every_event() -> None:
    document = build_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    messages = document["components"]["messages"]
    assert set(messages) == set(all_event_classes())
    for name, message in messages.items():
        assert (DOCS / message["payload"]["$ref"]).is_file(), name
    push = document["channels"]["git.PushReceived"]
    assert push["address"] == "hearth.evt.git.PushReceived.{key}"


@pytest.mark.parametrize("type_name", sorted(all_event_classes()))
def test_real_envelopes_validate_against_their_schema(type_name: str) -> None:
    schema = json.loads((DOCS / "schemas" / f"{type_name}.json").read_text())
    envelope = new_event(sample(all_event_classes()[type_name]), source="t", actor="a")
    jsonschema.validate(json.loads(envelope.to_json()), schema)
    wrong = json.loads(envelope.to_json())
    wrong["type"] = "SomethingElse"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, schema)


def test_the_asyncapi_document_is_valid_asyncapi_3() -> None:
    schema = json.loads((DOCS.parent / "tests" / "data" / "asyncapi-3.0.0.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    document = json.loads((DOCS / "asyncapi.json").read_text())
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    assert not validator.is_valid({**document, "asyncapi": "2.6.0"})
