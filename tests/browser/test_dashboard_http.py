"""The dashboard's HTTP contract, without a browser: sign-in, the cookie, CSRF, roles."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.browser.conftest import Site

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe: the site is an IP address, whose cookies aiohttp otherwise refuses to keep.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def sign_in(http: aiohttp.ClientSession, site: Site, token: str) -> str:
    """Signs in; returns the session's CSRF token as the pages carry it."""
    async with http.post(
        site.url + "/login", data={"token": token, "next": "/"}, allow_redirects=False
    ) as reply:
        assert reply.status == 303, await reply.text()
        cookie = reply.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    async with http.get(site.url + "/") as page:
        assert page.status == 200
        found = CSRF.search(await page.text())
    assert found is not None
    return found.group(1)


async def test_signing_in_with_a_bad_token_says_why_and_sets_no_cookie(
    site: Site, http: aiohttp.ClientSession
) -> None:
    async with http.post(site.url + "/login", data={"token": "hearth_nope"}) as reply:
        assert reply.status == 401
        assert "unknown or revoked" in await reply.text()
        assert "Set-Cookie" not in reply.headers
    async with http.get(site.url + "/deployments", allow_redirects=False) as reply:
        assert reply.status == 303
        assert reply.headers["Location"] == "/login?next=/deployments"


async def test_htmx_requests_without_a_session_are_sent_to_sign_in(
    site: Site, http: aiohttp.ClientSession
) -> None:
    async with http.get(site.url + "/fragments/targets", headers={"HX-Request": "true"}) as reply:
        assert reply.status == 401
        assert reply.headers["HX-Redirect"] == "/login"


async def test_sign_in_never_redirects_off_site(site: Site, http: aiohttp.ClientSession) -> None:
    token = await site.token("olive", "operator")
    for evil in (
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "/ /evil.example",
    ):
        async with http.post(
            site.url + "/login", data={"token": token, "next": evil}, allow_redirects=False
        ) as reply:
            assert reply.status == 303
            assert reply.headers["Location"] == "/", evil


async def test_forms_need_the_session_csrf_token_and_the_role(
    site: Site, http: aiohttp.ClientSession
) -> None:
    viewer = await site.token("vic", "viewer")
    csrf = await sign_in(http, site, viewer)
    deploy = site.url + "/targets/ha/deploy"

    async with http.post(deploy, data={}) as reply:
        assert reply.status == 403
        assert "did not come from your current dashboard session" in await reply.text()
    async with http.post(deploy, data={"csrf": "x" * len(csrf)}) as reply:
        assert reply.status == 403
        assert "Form expired" in await reply.text()
    async with http.post(deploy, data={"csrf": csrf}) as reply:
        assert reply.status == 403
        assert "needs the operator role" in await reply.text()

    operator = await site.token("otto", "operator")
    csrf = await sign_in(http, site, operator)
    # The header form, as htmx sends it; the target is unknown, so the API's 404 shows.
    async with http.post(deploy, headers={"X-CSRF-Token": csrf}) as reply:
        assert reply.status == 404
        assert "ha" in await reply.text()


async def test_the_session_cookie_reads_the_api_but_never_writes_it(
    site: Site, http: aiohttp.ClientSession
) -> None:
    await sign_in(http, site, await site.token("ada", "admin"))
    async with http.get(site.url + "/api/v1/targets") as reply:
        assert reply.status == 200
    # A cookie rides along on cross-site requests; API writes need the bearer token.
    async with http.post(site.url + "/api/v1/deployments", json={"target": "ha"}) as reply:
        assert reply.status == 401


async def test_signing_out_ends_the_session(site: Site, http: aiohttp.ClientSession) -> None:
    csrf = await sign_in(http, site, await site.token("sam", "viewer"))
    cookie = {c.key: c.value for c in http.cookie_jar}["hearth_session"]
    async with http.post(site.url + "/logout", data={"csrf": csrf}, allow_redirects=False) as reply:
        assert reply.status == 303
        assert reply.headers["Location"] == "/login"
    async with http.get(site.url + "/", allow_redirects=False) as reply:
        assert reply.status == 303
    # The old cookie, replayed, is dead on the server too.
    async with (
        aiohttp.ClientSession() as other,
        other.get(
            site.url + "/", headers={"Cookie": f"hearth_session={cookie}"}, allow_redirects=False
        ) as reply,
    ):
        assert reply.status == 303
