"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from hearth_query_api.entrypoints.api.framework import Route
from hearth_query_api.entrypoints.api.models import ErrorOut

_PARAM = re.compile(r"\{([^}]+)\}")
REF = "#/components/schemas/{model}"
PATH_PARAMETERS = {
    "id": "a deployment id, or a unique prefix of it (at least 4 characters)",
    "name": "a target's name",
}
PATH_SCHEMAS: dict[str, dict[str, Any]] = {"id": {"type": "string", "minLength": 4}}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    params = []
    for name, prop in schema.get("properties", {}).items():
        clean = {k: v for k, v in prop.items() if k != "title"}
        params.append(
            {
                "name": name,
                "in": "query",
                "required": name in schema.get("required", []),
                "schema": clean,
            }
        )
    return params


def build_openapi(routes: list[Route], version: str) -> dict[str, Any]:
    refs, definitions = models_json_schema(_model_keys(routes), ref_template=REF)
    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hearth API",
            "version": version,
            "description": "Read models, commands and the live feed of Hearth.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


Refs = dict[Any, dict[str, Any]]  # (model, mode) -> its $ref


def _model_keys(routes: list[Route]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    """Every model the document names, each once: answers as serialised, bodies as read."""
    keys: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorOut, "serialization")]
    for route in routes:
        if route.response is not None and (route.response, "serialization") not in keys:
            keys.append((route.response, "serialization"))
        if route.body is not None and (route.body, "validation") not in keys:
            keys.append((route.body, "validation"))
    return keys


def _operation(route: Route, refs: Refs) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "tags": list(route.tags),
        "security": [{"bearer": []}],
        "x-hearth-role": route.role,
        "parameters": [
            {
                "name": n,
                "in": "path",
                "required": True,
                "schema": PATH_SCHEMAS.get(n, {"type": "string"}),
                "description": PATH_PARAMETERS.get(n, n),
            }
            for n in _PARAM.findall(route.path)
        ],
        "responses": _responses(route, refs),
    }
    if route.query is not None:
        operation["parameters"] += _query_parameters(route.query)
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    return operation


def _responses(route: Route, refs: Refs) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": refs[(ErrorOut, "serialization")]}}}
    responses: dict[str, Any] = {
        "400": {"description": "bad input", **error},
        "401": {"description": "no or unknown token", **error},
        "403": {"description": "the token's role may not do this", **error},
        "404": {"description": "not found", **error},
        "503": {"description": "starting", **error},
    }
    responses[str(route.status)] = _ok(route, refs)
    if route.method != "GET":
        responses["409"] = {"description": "conflicts with the current state", **error}
    if "{id}" in route.path:
        responses["409"] = {
            "description": "an ambiguous id prefix (candidates in the body)"
            + (", or conflicts with the current state" if route.method != "GET" else ""),
            **error,
        }
    return responses


def _ok(route: Route, refs: Refs) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "ok"}
    if route.media_type == "text/event-stream":
        ok["content"] = {
            route.media_type: {
                "schema": {
                    "type": "object",
                    "description": "each event's data: the envelope and its seq",
                }
            }
        }
    elif route.media_type != "application/json":
        # A file whose type follows a query parameter (the fleet's export).
        ok["content"] = {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        }
    elif route.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(route.response, "serialization")]}}
    return ok
