"""Roll back: what it restores, asking twice, and the page a button leads to.

The real query API over a real history, without a deployer: the commands stay requested,
which is exactly the moment the read models have not seen them yet.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import nats
import pytest

from hearth_events import parse_event
from hearth_events.jetstream import EVENTS_STREAM
from tests.integration.query_api.conftest import Api
from tests.integration.query_api.test_feed import publish
from tests.support.github import sha
from tests.support.history import deployment

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ROLLBACK_FORM = re.compile(
    r"<form method=\"post\" action=\"/targets/ha/rollback\" onsubmit='return confirm\((.*?)\)'>"
    r".*?name=\"to\" value=\"([^\"]+)\"",
    re.S,
)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def sign_in(http: aiohttp.ClientSession, api: Api, token: str) -> str:
    async with http.post(api.base + "/login", data={"token": token, "next": "/"}) as reply:
        found = CSRF.search(await reply.text())
    assert found is not None
    return found.group(1)


async def a_newer_deployment(api: Api) -> None:
    """dep-9 on ha, after dep-1: its backup bk-9 is now the newest."""
    await publish(api.nats_url, *deployment(9, "ha", sha("9"), "ok"))
    async with asyncio.timeout(20):
        while "bk-9" not in str(api.call("GET", "/api/v1/backups?target=ha")[1]):
            await asyncio.sleep(0.1)


async def rollbacks_published(api: Api) -> list[str | None]:
    nc = await nats.connect(api.nats_url)
    js = nc.jetstream()
    info = await js.stream_info(EVENTS_STREAM)
    found = []
    for seq in range(1, info.state.last_seq + 1):
        message = await js.get_msg(EVENTS_STREAM, seq)
        assert message.data is not None
        event = parse_event(message.data)
        if event.type == "RollbackRequested":
            found.append(event.data.to_backup)  # type: ignore[attr-defined]
    await nc.close()
    return found


async def test_an_old_deployments_roll_back_restores_its_own_backup_and_says_so(
    api: Api, http: aiohttp.ClientSession
) -> None:
    await a_newer_deployment(api)
    await sign_in(http, api, api.tokens["operator"])
    async with http.get(api.base + "/deployments/dep-1") as page:
        text = await page.text()
    form = ROLLBACK_FORM.search(text)
    assert form is not None, text
    prompt, backup = html.unescape(form.group(1)), form.group(2)
    assert backup == "bk-1"  # not bk-9, the newest
    assert "Restore backup bk-1 on ha" in prompt
    assert "before deployment dep-1" in prompt and "taken 2026-11-22 09:00:" in prompt
    assert "Roll back to before this deployment" in text

    # A deployment that changed no files has nothing of its own to roll back.
    async with http.get(api.base + "/deployments/dep-2") as page:
        assert 'id="rollback"' not in await page.text()


async def test_pressing_roll_back_twice_rolls_back_once_and_the_page_exists(
    api: Api, http: aiohttp.ClientSession
) -> None:
    await a_newer_deployment(api)
    csrf = await sign_in(http, api, api.tokens["operator"])
    form = {"csrf": csrf, "to": "bk-1"}
    url = api.base + "/targets/ha/rollback"
    async with http.post(url, data=form, allow_redirects=False) as first:
        assert first.status == 303, await first.text()
        location = first.headers["Location"]
    async with http.post(url, data=form, allow_redirects=False) as second:
        assert second.status == 409
        answer = html.unescape(await second.text())
    rollback_id = location.rsplit("/", 1)[1]
    assert f"ha is already being rolled back to backup bk-1 by deployment {rollback_id}" in answer
    assert f'href="/deployments/{rollback_id}"' in answer
    assert await rollbacks_published(api) == ["bk-1"]

    # The button leads to a page that follows the deployment, not a 404, although no
    # deployer has announced it yet.
    async with http.get(api.base + location) as page:
        assert page.status == 200
        assert "Requested: waiting for the deployer" in await page.text()
    async with http.get(api.base + "/deployments/0193ffff-0000-7000-8000-000000000000") as page:
        assert page.status == 404


async def test_the_api_rolls_back_the_newest_deployment_once(api: Api) -> None:
    await a_newer_deployment(api)
    path = "/api/v1/targets/ha/rollback"
    status, accepted = api.call("POST", path, token="operator", body={})
    assert status == 202
    status, again = api.call("POST", path, token="operator", body={})
    assert (status, again["error"]) == (409, "already rolling back")
    assert again["deployment_id"] == accepted["deployment_id"]
    assert "backup bk-9" in again["detail"]
    # Another backup is another request.
    assert api.call("POST", path, token="operator", body={"to": "bk-1"})[0] == 202
    assert await rollbacks_published(api) == ["bk-9", "bk-1"]


async def test_a_rollback_no_deployer_took_up_stands_only_a_while(
    api: Api, database_url: str
) -> None:
    path = "/api/v1/targets/ha/rollback"
    assert api.call("POST", path, token="operator", body={"to": "bk-1"})[0] == 202
    assert api.call("POST", path, token="operator", body={"to": "bk-1"})[0] == 409
    # Ten minutes on, still not announced (no deployer runs here): asking again may go.
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "query_api"})
    try:
        await conn.execute(
            "UPDATE requested_deployments SET requested_at = now() - interval '11 minutes'"
        )
    finally:
        await conn.close()
    assert api.call("POST", path, token="operator", body={"to": "bk-1"})[0] == 202
    assert await rollbacks_published(api) == ["bk-1", "bk-1"]
