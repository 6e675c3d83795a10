"""Log lines (DeploymentLogged) stay out of the audit log and the live feed unless asked for."""

from __future__ import annotations

import aiohttp
import pytest

from hearth_events.catalogue import DeviceOffline
from tests.integration.query_api.conftest import Api
from tests.integration.query_api.test_feed import log_line, publish, read_events

pytestmark = pytest.mark.integration


def types_of(api: Api, query: str) -> list[str]:
    status, page = api.call("GET", f"/api/v1/events?limit=200{query}")
    assert status == 200, page
    return [e["type"] for e in page["items"]]


async def test_the_audit_log_leaves_out_log_lines_unless_asked(api: Api) -> None:
    default = types_of(api, "")
    assert "DeploymentLogged" not in default
    assert "DeploymentSucceeded" in default
    named = types_of(api, "&type=DeploymentLogged")
    assert named and set(named) == {"DeploymentLogged"}
    everything = types_of(api, "&logs=true")
    assert sorted(everything) == sorted(default + named)


async def test_the_live_feed_leaves_out_log_lines_unless_asked(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.tokens['viewer']}"}
    base = f"{api.base}/api/v1/events/stream"
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(base) as plain,
        session.get(base + "?logs=true") as with_logs,
    ):
        await plain.content.readline()  # ": connected"
        await with_logs.content.readline()
        await publish(api.nats_url, log_line(1), DeviceOffline(device_id="x"))
        first_plain = await read_events(plain, 1)
        both = await read_events(with_logs, 2)
    assert [e["type"] for _, e in first_plain] == ["DeviceOffline"]
    assert [e["type"] for _, e in both] == ["DeploymentLogged", "DeviceOffline"]


async def test_the_audit_and_live_pages_toggle_log_lines(api: Api) -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # the site is an IP address
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        login = {"token": api.tokens["viewer"], "next": "/"}
        async with http.post(api.base + "/login", data=login) as reply:
            assert reply.status == 200
        async with http.get(api.base + "/audit") as page:
            audit = await page.text()
        async with http.get(api.base + "/audit?logs=on") as page:
            with_logs = await page.text()
        async with http.get(api.base + "/events?logs=on") as page:
            live = await page.text()
    logged = "Deployment<wbr>Logged"  # as the page words the type
    assert logged not in audit
    assert 'name="logs" id="show-logs" >' in audit  # the toggle, off
    assert logged in with_logs
    assert 'data-feed="/api/v1/events/stream?logs=true"' in live
