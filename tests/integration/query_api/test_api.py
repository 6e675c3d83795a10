"""The REST API of the real query-api process over read models built from real events."""

from __future__ import annotations

import json
from typing import Any

import nats
import pytest

from hearth_events import parse_event
from hearth_events.jetstream import EVENTS_STREAM
from hearth_query_api.entrypoints.api.endpoints import Endpoints
from tests.integration.query_api.conftest import Api, command

pytestmark = pytest.mark.integration


async def test_reads_answer_from_the_read_models(api: Api) -> None:
    status, targets = api.call("GET", "/api/v1/targets")
    assert status == 200
    assert {t["name"]: t["status"] for t in targets["items"]} == {"garage": "red", "ha": "green"}
    status, target = api.call("GET", "/api/v1/targets/garage")
    assert (status, target["branch"], target["last_deployment_id"]) == (200, "stable", "dep-3")

    status, detail = api.call("GET", "/api/v1/deployments/dep-3")
    assert status == 200
    assert (detail["status"], detail["rolled_back"], detail["step"]) == ("failed", True, "rollback")
    assert [s["type"] for s in detail["steps"]][:3] == [
        "DeploymentStarted",
        "ConfigFetched",
        "ConfigValidated",
    ]
    assert detail["logs"][0]["message"] == "line 0 of dep-3"
    assert detail["plan"]["changed"][0]["path"] == "automations.yaml"
    assert detail["diff"].startswith("--- a/automations.yaml")

    status, stats = api.call("GET", "/api/v1/deployments/stats")
    by_target = {s["target"]: s for s in stats["targets"]}
    assert by_target["ha"]["success_rate"] == 1.0
    assert by_target["garage"]["rollbacks"] == 1

    status, backups = api.call("GET", "/api/v1/backups?target=garage")
    assert [b["backup_id"] for b in backups["items"]] == ["bk-3"]
    status, pushes = api.call("GET", "/api/v1/pushes?repo=alice/home-config")
    assert len(pushes["items"]) == 1


async def test_lists_filter_and_page_with_cursors(api: Api) -> None:
    status, first = api.call("GET", "/api/v1/deployments?limit=2")
    assert status == 200
    assert [d["id"] for d in first["items"]] == ["dep-3", "dep-2"]
    status, second = api.call("GET", f"/api/v1/deployments?limit=2&cursor={first['next_cursor']}")
    assert [d["id"] for d in second["items"]] == ["dep-1"]
    assert second["next_cursor"] is None
    status, failed = api.call("GET", "/api/v1/deployments?status=failed&target=garage")
    assert [d["id"] for d in failed["items"]] == ["dep-3"]
    status, found = api.call("GET", "/api/v1/events?q=automation&type=DeploymentPlanned")
    assert {e["key"] for e in found["items"]} == {"ha", "garage"}


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/api/v1/deployments?limit=0", "query parameter 'limit': Input should be greater"),
        ("/api/v1/deployments?limit=ten", "query parameter 'limit': Input should be a valid"),
        ("/api/v1/deployments?colour=red", "query parameter 'colour' is not known"),
        ("/api/v1/deployments?cursor=zzz", "query parameter 'cursor': Input should be a valid"),
        ("/api/v1/events?since=yesterday", "query parameter 'since': Value error, use an ISO"),
        ("/api/v1/events?until=0.5", "query parameter 'until': Value error, use an ISO"),
        ("/api/v1/targets?x=1", "query parameter 'x' is not known"),
    ],
)
async def test_bad_parameters_get_400_naming_the_parameter(
    api: Api, path: str, detail: str
) -> None:
    status, body = api.call("GET", path)
    assert status == 400
    assert body["error"] == "bad query"
    assert body["detail"].startswith(detail)


async def test_tokens_and_roles_are_enforced(api: Api) -> None:
    assert api.call("GET", "/api/v1/targets", token=None)[0] == 401
    assert api.call("GET", "/api/v1/targets", token="hth_not-a-real-token")[0] == 401
    status, body = api.call("POST", "/api/v1/deployments", token="viewer", body={"target": "ha"})
    assert status == 403
    assert body["detail"] == (
        "POST /api/v1/deployments needs the operator role; token 'viewer' has viewer"
    )
    assert api.call("GET", "/api/v1/targets", token="admin")[0] == 200
    reply = await command(api.nats_url, "RevokeToken", {"name": "viewer"})
    assert reply["ok"]
    assert api.call("GET", "/api/v1/targets")[0] == 401
    listed = await command(api.nats_url, "ListTokens", {})
    assert {t["name"]: t["revoked_at"] is not None for t in listed["tokens"]} == {
        "viewer": True,
        "ops": False,
        "root": False,
    }
    assert "token" not in json.dumps(listed["tokens"]).replace('"token_', "")
    used = {t["name"]: t["last_used_at"] is not None for t in listed["tokens"]}
    assert used["root"] and not used["ops"]  # last use is kept (to the minute)


ROLES = ("viewer", "operator", "admin")


async def test_every_endpoint_refuses_who_may_not(api: Api) -> None:
    """No token is 401 everywhere; each role below a route's is 403, before the body is read."""
    routes = Endpoints(None, None, "test").routes()  # type: ignore[arg-type]
    for route in routes:
        path = route.path.replace("{name}", "ha").replace("{id}", "dep-1")
        body: dict[str, Any] | None = {} if route.method == "POST" else None
        assert api.call(route.method, path, token=None, body=body)[0] == 401, path
        for role in ROLES[: ROLES.index(route.role)]:
            status, reply = api.call(route.method, path, token=role, body=body)
            assert status == 403, (route.method, path, role)
            assert f"needs the {route.role} role" in reply["detail"]
    assert {r.role for r in routes} == set(ROLES)  # each role guards something


async def test_commands_become_events(api: Api) -> None:
    status, accepted = api.call(
        "POST",
        "/api/v1/deployments",
        token="operator",
        body={"target": "ha", "dry_run": True, "full_check": True},
    )
    assert status == 202
    assert accepted["follow"] == f"/api/v1/deployments/{accepted['deployment_id']}"
    status, _ = api.call(
        "POST", "/api/v1/targets/garage/rollback", token="operator", body={"to": "bk-3"}
    )
    assert status == 202
    status, body = api.call("POST", "/api/v1/deployments/dep-1/cancel", token="operator", body={})
    assert (status, body["error"]) == (409, "already finished")
    status, body = api.call(
        "POST", "/api/v1/deployments", token="operator", body={"target": "nowhere"}
    )
    assert status == 404
    status, body = api.call(
        "POST",
        "/api/v1/deployments",
        token="operator",
        body={"target": "ha", "commit": "not-a-sha"},
    )
    assert (status, body["error"]) == (400, "bad body")
    assert "commit" in body["detail"]

    nc = await nats.connect(api.nats_url)
    js = nc.jetstream()
    info = await js.stream_info(EVENTS_STREAM)
    last = await js.get_msg(EVENTS_STREAM, info.state.last_seq)
    before_last = await js.get_msg(EVENTS_STREAM, info.state.last_seq - 1)
    assert last.data is not None and before_last.data is not None
    rollback = parse_event(last.data)
    first = parse_event(before_last.data)
    await nc.close()
    assert (first.type, first.actor, first.data.dry_run) == (  # type: ignore[attr-defined]
        "DeployRequested",
        "token:ops",
        True,
    )
    assert (rollback.type, rollback.data.to_backup) == ("RollbackRequested", "bk-3")  # type: ignore[attr-defined]
    assert first.data.full_check is True  # type: ignore[attr-defined]


async def test_the_openapi_document_is_served(api: Api) -> None:
    status, document = api.call("GET", "/api/openapi.json", token=None)
    assert status == 200
    assert document["openapi"] == "3.1.0"
    assert "/api/v1/deployments/{id}" in document["paths"]
    assert document["paths"]["/api/v1/deployments"]["post"]["x-hearth-role"] == "operator"


async def test_the_notification_test_button_is_for_admins(api: Api) -> None:
    status, _ = api.call("POST", "/api/v1/notifications/test", token="operator", body={})
    assert status == 403
    status, body = api.call("POST", "/api/v1/notifications/test", token="admin", body={})
    assert (status, body["error"]) == (503, "notifier unavailable")  # none runs in this test
