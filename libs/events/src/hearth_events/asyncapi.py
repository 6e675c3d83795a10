"""The AsyncAPI 3.0 document and one JSON Schema per event, generated from the catalogue.

``python -m hearth_events.asyncapi --write`` regenerates ``docs/asyncapi.json`` and
``docs/schemas/``; ``--check`` exits 1 naming what is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hearth_events.base import EventData
from hearth_events.catalogue import all_event_classes
from hearth_events.envelope import (
    HEADER_CORRELATION_ID,
    HEADER_EVENT_TYPE,
    HEADER_MSG_ID,
    HEADER_SCHEMA_VERSION,
    Envelope,
)
from hearth_events.jetstream import EVENTS_STREAM, TASKS_STREAM

HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [HEADER_MSG_ID, HEADER_EVENT_TYPE, HEADER_SCHEMA_VERSION, HEADER_CORRELATION_ID],
    "properties": {
        HEADER_MSG_ID: {"type": "string", "description": "the event_id: JetStream dedupe"},
        HEADER_EVENT_TYPE: {"type": "string"},
        HEADER_SCHEMA_VERSION: {"type": "string", "pattern": "^[0-9]+$"},
        HEADER_CORRELATION_ID: {"type": "string"},
    },
}


def event_schema(cls: type[EventData]) -> dict[str, Any]:
    """The JSON Schema of a whole envelope carrying ``cls`` as its data."""
    envelope = Envelope.model_json_schema(mode="serialization")
    data = cls.model_json_schema(mode="serialization")
    defs = {**envelope.pop("$defs", {}), **data.pop("$defs", {})}
    envelope["title"] = cls.type_name()
    envelope["description"] = (cls.__doc__ or "").strip() or f"The {cls.type_name()} event."
    envelope["properties"]["type"] = {"const": cls.type_name()}
    envelope["properties"]["schema_version"] = {"const": cls.schema_version}
    envelope["properties"]["data"] = data
    if defs:
        envelope["$defs"] = defs
    envelope["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return envelope


def build_asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for name, cls in all_event_classes().items():
        channel = f"{cls.context}.{name}"
        messages[name] = {
            "name": name,
            "title": name,
            "summary": (cls.__doc__ or "").strip().split("\n")[0] or name,
            "contentType": "application/json",
            "headers": HEADERS_SCHEMA,
            "payload": {"$ref": f"schemas/{name}.json"},
            "x-severity": cls.severity,
            "x-key-field": cls.key_field,
        }
        channels[channel] = {
            "address": f"hearth.evt.{cls.context}.{name}.{{key}}",
            "description": f"{name} events, one subject token per {cls.key_field} "
            "(percent-escaped so dots and wildcards stay one token)",
            "parameters": {"key": {"description": f"the escaped {cls.key_field}"}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"on{name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"Consume {name} from the {EVENTS_STREAM} stream",
        }
    channels["provision.tasks"] = {
        "address": "hearth.task.provision.{site}",
        "description": f"Onboarding work for the agents at one site ({TASKS_STREAM}, "
        "work-queue retention)",
        "parameters": {"site": {"description": "the escaped site name"}},
    }
    channels["commands"] = {
        "address": "hearth.cmd.{context}.{command}",
        "description": "Request/reply commands; the reply is JSON {ok, error?, ...}. An "
        "accepted command leads to events; the reply never replaces them.",
        "parameters": {"context": {}, "command": {}},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Hearth events",
            "version": "1.0.0",
            "description": f"Every Hearth event, stored in the {EVENTS_STREAM} JetStream "
            "stream as a JSON envelope.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render(docs: Path) -> dict[Path, str]:
    files = {docs / "asyncapi.json": json.dumps(build_asyncapi(), indent=2, sort_keys=True) + "\n"}
    for name, cls in all_event_classes().items():
        files[docs / "schemas" / f"{name}.json"] = (
            json.dumps(event_schema(cls), indent=2, sort_keys=True) + "\n"
        )
    return files


def stale(docs: Path) -> list[Path]:
    wanted = render(docs)
    present = set((docs / "schemas").glob("*.json")) if (docs / "schemas").exists() else set()
    outdated = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    return sorted(outdated + [p for p in present if p not in wanted])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true")
    action.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        outdated = stale(args.docs)
        if outdated:
            names = ", ".join(str(p) for p in outdated)
            sys.exit(f"stale: {names}; run `uv run python -m hearth_events.asyncapi --write`")
        return
    for path in stale(args.docs):
        if path.exists() and path not in render(args.docs):
            path.unlink()
    for path, text in render(args.docs).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


if __name__ == "__main__":
    main()
