"""After Roll back, before any deployer announces the rollback: a page that follows it."""

from __future__ import annotations

from typing import Any

import pytest

from hearth_events.catalogue import DeployRequested
from tests.integration.query_api.conftest import Api, api  # noqa: F401 (a fixture)
from tests.integration.query_api.test_feed import publish

pytestmark = pytest.mark.integration


async def test_the_page_after_roll_back_exists_and_becomes_the_deployment(
    api: Api,  # noqa: F811
    browser: Any,
) -> None:
    page = await browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if r.request.resource_type == "document" else None,
    )
    await page.goto(api.base + "/login")
    await page.fill("input[name=token]", api.tokens["operator"])
    await page.click("button[type=submit]")
    await page.wait_for_url(api.base + "/")
    await page.goto(api.base + "/deployments/dep-1")
    await page.click("#rollback")
    await page.wait_for_url(lambda url: "/deployments/" in url and "dep-1" not in url)
    assert "Requested: waiting for the deployer" in await page.locator("#status").inner_text()
    assert all(s < 400 for s in statuses), statuses

    rollback_id = page.url.rsplit("/", 1)[1]
    await publish(
        api.nats_url,
        DeployRequested(
            deployment_id=rollback_id, target="ha", repo="alice/home-config", trigger="rollback"
        ),
    )
    await page.locator(f"#live[data-deployment='{rollback_id}']").wait_for()
    assert (await page.locator("#live #status").inner_text()).strip() == "queued"
    await page.close()
