"""The interactive API docs at /api/docs: served from this machine, and they try a GET."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Site
from tests.browser.test_dashboard import sign_in

pytestmark = pytest.mark.integration


async def test_the_api_docs_load_offline_and_try_a_get_with_the_session(
    site: Site, browser: Any
) -> None:
    token = await site.token("vera", "viewer")
    page = await browser.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    await sign_in(page, site, token)

    # Every signed-in page links to them.
    async with page.expect_navigation():
        await page.get_by_role("link", name="API docs").click()
    assert page.url == site.url + "/api/docs"
    reply = await page.reload()
    assert reply is not None and reply.status == 200
    operation = page.locator("#operations-targets-list_targets")
    await operation.wait_for()
    assert await page.locator("#operations-deployments-get_deployment").count() == 1
    await operation.locator(".opblock-summary").click()
    await operation.locator("button.try-out__btn").click()
    await operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status")
    await status.first.wait_for()
    assert (await status.first.inner_text()).strip() == "200"
    assert '"items"' in await operation.locator(".live-responses-table").inner_text()

    # Nothing came from anywhere but Hearth itself (no CDN).
    assert requested and all(url.startswith(site.url) for url in requested), requested
    await page.close()
