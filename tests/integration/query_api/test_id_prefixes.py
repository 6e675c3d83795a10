"""A deployment in a path may be named by a unique prefix of its id, as Git takes commits."""

from __future__ import annotations

import asyncio

import nats
import pytest

from hearth_events import parse_event
from hearth_events.catalogue import DeployRequested
from hearth_events.jetstream import EVENTS_STREAM
from tests.integration.query_api.conftest import Api
from tests.integration.query_api.test_feed import publish

pytestmark = pytest.mark.integration

# Two UUIDv7 ids requested in the same minute share their first eight digits.
FIRST = "0193aaaa-1111-7000-8000-000000000001"
SECOND = "0193aaaa-2222-7000-8000-000000000002"


async def two_deployments(api: Api) -> None:
    await publish(
        api.nats_url,
        *(
            DeployRequested(
                deployment_id=i, target="ha", repo="alice/home-config", trigger="manual"
            )
            for i in (FIRST, SECOND)
        ),
    )
    async with asyncio.timeout(20):
        while api.call("GET", f"/api/v1/deployments/{SECOND}")[0] != 200:
            await asyncio.sleep(0.1)


async def test_a_unique_prefix_names_the_deployment(api: Api) -> None:
    await two_deployments(api)
    status, detail = api.call("GET", "/api/v1/deployments/0193aaaa-1")
    assert (status, detail["id"]) == (200, FIRST)
    assert api.call("GET", "/api/v1/deployments/dep-2")[1]["id"] == "dep-2"  # exact still

    status, accepted = api.call(
        "POST", "/api/v1/deployments/0193aaaa-22/cancel", token="operator", body={}
    )
    assert (status, accepted["deployment_id"]) == (202, SECOND)
    nc = await nats.connect(api.nats_url)
    js = nc.jetstream()
    info = await js.stream_info(EVENTS_STREAM)
    last = await js.get_msg(EVENTS_STREAM, info.state.last_seq)
    await nc.close()
    assert last.data is not None
    cancel = parse_event(last.data)
    assert (cancel.type, cancel.data.deployment_id) == ("DeploymentCancelRequested", SECOND)  # type: ignore[attr-defined]


async def test_an_ambiguous_prefix_lists_the_candidates(api: Api) -> None:
    await two_deployments(api)
    status, body = api.call("GET", "/api/v1/deployments/0193aaaa")
    assert (status, body["error"]) == (409, "ambiguous id")
    assert [c["id"] for c in body["candidates"]] == [FIRST, SECOND]
    assert {c["target"] for c in body["candidates"]} == {"ha"}
    assert FIRST in body["detail"] and SECOND in body["detail"]
    status, body = api.call(
        "POST", "/api/v1/deployments/0193aaaa/cancel", token="operator", body={}
    )
    assert (status, len(body["candidates"])) == (409, 2)


async def test_a_too_short_or_unknown_prefix_is_refused(api: Api) -> None:
    await two_deployments(api)
    status, body = api.call("GET", "/api/v1/deployments/019")
    assert (status, body["error"]) == (400, "id too short")
    assert "at least 4 characters" in body["detail"]
    status, body = api.call("GET", "/api/v1/deployments/ffff")
    assert (status, body["error"]) == (404, "not found")
    assert "candidates" not in body


async def test_the_openapi_document_says_prefixes_are_taken(api: Api) -> None:
    _, document = api.call("GET", "/api/openapi.json", token=None)
    operation = document["paths"]["/api/v1/deployments/{id}"]["get"]
    assert "unique prefix" in operation["parameters"][0]["description"]
    assert "ambiguous" in operation["responses"]["409"]["description"]
    assert "candidates" in document["components"]["schemas"]["ErrorOut"]["properties"]


async def test_the_list_keeps_only_the_ids_with_a_prefix(api: Api) -> None:
    """What the CLI asks for a short id: one request, however many deployments there are."""
    await two_deployments(api)
    status, page = api.call("GET", "/api/v1/deployments?id_prefix=0193aaaa-2")
    assert (status, [d["id"] for d in page["items"]]) == (200, [SECOND])
    status, page = api.call("GET", "/api/v1/deployments?id_prefix=0193aaaa")
    assert sorted(d["id"] for d in page["items"]) == [FIRST, SECOND]
    status, body = api.call("GET", "/api/v1/deployments?id_prefix=019")
    assert (status, body["error"]) == (400, "bad query")
    assert "id_prefix" in body["detail"]
