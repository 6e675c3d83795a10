"""The dashboard in headless Chromium: sign in, deploy, watch it go green, roll back, audit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS, Site
from tests.integration.deployer.harness import World
from tests.integration.deployer.test_deployments import deploy_base

pytestmark = pytest.mark.integration

LIVE_TIMEOUT_MS = 60_000


async def sign_in(page: Any, site: Site, token: str) -> None:
    await page.goto(site.url + "/")
    assert "/login" in page.url  # not signed in yet
    await page.fill("input[name=token]", token)
    await page.click("button[type=submit]")
    await page.wait_for_url(site.url + "/")


async def test_sign_in_deploy_watch_it_go_green_roll_back_and_audit(
    world: World, site: Site, sshd: Any, ha_sim: Any, browser: Any
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    token = await site.token("alice", "operator")
    await deploy_base(world, sshd, ha_sim)
    before = (sshd.remote_root / "automations.yaml").read_text()
    world.remote.commit({"automations.yaml": "[]\n"})
    world.remote.push()  # not announced: the deploy comes from the page

    page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in(page, site, token)
    row = page.locator("#targets tr", has_text="ha")
    await row.locator(".dot.ok").wait_for()
    await page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)

    await page.click("text=ha")
    await page.wait_for_url(site.url + "/targets/ha")
    await page.click("#deploy-now")
    await page.wait_for_url(f"{site.url}/deployments/**")
    status = page.locator("#status")
    await status.filter(has_text="succeeded").wait_for(timeout=LIVE_TIMEOUT_MS)
    await page.locator("#toasts .toast", has_text="succeeded").wait_for(timeout=LIVE_TIMEOUT_MS)
    assert "uploaded" in await page.locator("ol.steps").inner_text()
    assert "+[]" in await page.locator("pre.diff").inner_text()
    await page.screenshot(path=str(SCREENSHOTS / "deployment.png"), full_page=True)
    assert (sshd.remote_root / "automations.yaml").read_text() == "[]\n"

    await page.click("#rollback")
    await page.wait_for_function(
        "document.querySelector('#status') && "
        "document.querySelector('#status').textContent.trim() === 'rolled back'",
        timeout=LIVE_TIMEOUT_MS,
    )
    assert (sshd.remote_root / "automations.yaml").read_text() == before

    await page.goto(site.url + "/deployments")
    await page.locator("table.list .badge", has_text="rolled back").first.wait_for()
    await page.screenshot(path=str(SCREENSHOTS / "history.png"), full_page=True)
    await page.goto(site.url + "/audit?type=RollbackRequested")
    audit = await page.locator("#audit").inner_text()
    assert "RollbackRequested" in audit and "token:alice" in audit
    await page.screenshot(path=str(SCREENSHOTS / "audit.png"), full_page=True)
    await page.close()


async def test_a_viewer_sees_no_buttons_and_a_revoked_token_ends_the_session(
    world: World, site: Site, sshd: Any, ha_sim: Any, browser: Any
) -> None:
    await deploy_base(world, sshd, ha_sim)
    token = await site.token("vera", "viewer")
    page = await browser.new_page()
    await sign_in(page, site, token)
    await page.goto(site.url + "/targets/ha")
    assert await page.locator("#deploy-now").count() == 0
    await site.revoke("vera")
    await page.goto(site.url + "/targets/ha")
    assert "/login" in page.url
    await page.close()


async def test_a_refused_deploy_says_why_and_a_lost_session_goes_to_sign_in(
    world: World, site: Site, sshd: Any, ha_sim: Any, browser: Any
) -> None:
    """A Deploy refused by the server (here: a form from an expired session) shows the
    problem's title and line; it used to do nothing at all. A revoked token's Deploy leads
    to the sign-in page, not to a sign-in form drawn inside the deploy form."""
    await deploy_base(world, sshd, ha_sim)
    token = await site.token("olga", "operator")
    page = await browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in(page, site, token)
    await page.goto(site.url + "/targets/ha")
    await page.evaluate("""document.body.setAttribute("hx-headers", '{"X-CSRF-Token": "stale"}')""")
    await page.click("#deploy-now")
    refusal = page.locator("#toasts .toast.bad[role=alert]")
    await refusal.wait_for()
    assert (await refusal.inner_text()).startswith("Form expired: This form did not come from")
    assert page.url == site.url + "/targets/ha"
    await refusal.click()
    assert await refusal.count() == 0

    await site.revoke("olga")
    await page.click("#deploy-now")
    await page.wait_for_url(site.url + "/login")
    assert await page.locator("#deploy-form").count() == 0
    await page.close()
