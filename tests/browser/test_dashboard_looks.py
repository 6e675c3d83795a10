"""How the dashboard reads, in headless Chromium at a phone's width and a desktop's: words
instead of status codes, times with their zone, commits with their message and only linked
where the page exists, graphs, a dry run that says so, and nothing breaking at 375 px."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest

from hearth_events.catalogue import RepositorySpec, RepositoryUpdated
from tests.browser.conftest import SCREENSHOTS, Site
from tests.browser.test_dashboard import LIVE_TIMEOUT_MS, sign_in
from tests.integration.deployer.harness import World
from tests.integration.deployer.test_deployments import deploy_base

pytestmark = pytest.mark.integration

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
# The browser's zone differs from the server's UTC: titles must be localised by app.js.
ZONE = "Europe/Berlin"

# Each badge and step chip on one line: at most one line box tall.
WRAPPED_BADGES = """() => [...document.querySelectorAll('.badge, ol.steps li')]
  .filter(el => {
    const style = getComputedStyle(el);
    const inner = el.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    return inner > 1.5 * parseFloat(style.lineHeight);
  })
  .map(el => el.textContent)"""
OVERFLOW = "() => document.scrollingElement.scrollWidth - window.innerWidth"


async def assert_fits_a_phone(page: Any, name: str) -> None:
    assert await page.evaluate(WRAPPED_BADGES) == [], f"{name}: a badge or chip wraps"
    assert await page.evaluate(OVERFLOW) <= 0, f"{name}: the page scrolls sideways"
    wrapped_buttons = await page.evaluate(
        """() => [...document.querySelectorAll('button')].filter(b =>
             b.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(b).lineHeight))
           .map(b => b.textContent)"""
    )
    assert wrapped_buttons == [], f"{name}: a button wraps"


async def shoot(page: Any, name: str) -> None:
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def test_pages_read_well_on_a_phone_and_a_desktop(
    world: World, site: Site, sshd: Any, ha_sim: Any, browser: Any
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    token = await site.token("paula", "operator")
    first = await deploy_base(world, sshd, ha_sim)  # pushed with the message "change"
    world.remote.commit({"automations.yaml": "[]\n"})
    world.remote.push()  # not announced: the dry run comes from the page

    context = await browser.new_context(viewport=DESKTOP, timezone_id=ZONE)
    questions: list[str] = []

    async def answer(dialog: Any) -> None:
        questions.append(dialog.message)
        await dialog.accept()

    context.on("dialog", answer)
    page = await context.new_page()
    await sign_in(page, site, token)

    # A second page, already listening, sees the dry run's toast.
    watcher = await context.new_page()
    await watcher.set_viewport_size(PHONE)
    await watcher.goto(site.url + "/events")
    assert "waiting for events" in (await watcher.locator("#tail").inner_text()).lower()
    await watcher.locator("body[data-feed=open]").wait_for()

    # -- a dry run: asked as one, reported as one ------------------------------------------
    await page.goto(site.url + "/targets/ha")
    await page.check("#dry-run")
    assert await page.locator("#deploy-now").inner_text() == "Plan a dry run"
    await page.click("#deploy-now")
    await page.wait_for_url(f"{site.url}/deployments/**")
    assert "Dry run" in questions[-1] and "nothing changes on the host" in questions[-1]
    dry_url = page.url
    await page.locator("#live[data-terminal=yes]").wait_for(timeout=LIVE_TIMEOUT_MS)
    assert await page.locator("#status").inner_text() == "dry run finished"
    toast = watcher.locator("#toasts .toast", has_text="would change")
    await toast.wait_for(timeout=LIVE_TIMEOUT_MS)
    assert await toast.inner_text() == "Dry run on ha finished: 1 file would change"
    assert "waiting for events" not in (await watcher.locator("#tail").inner_text()).lower()
    await assert_fits_a_phone(watcher, "live, filled")
    await shoot(watcher, "live-filled-375")
    changes = await page.locator("#changes").inner_text()
    assert changes.startswith("Would change 1 file") and "(yet)" not in changes

    # -- then for real, from the same form ------------------------------------------------
    await page.goto(site.url + "/targets/ha")
    assert await page.locator("#deploy-now").inner_text() == "Deploy"
    await page.click("#deploy-now")
    await page.wait_for_url(f"{site.url}/deployments/**")
    assert questions[-1] == "Deploy to ha now?"
    await page.locator("#live[data-terminal=yes]").wait_for(timeout=LIVE_TIMEOUT_MS)
    assert await page.locator("#status").inner_text() == "succeeded"

    # -- the first deployment: its commit, message, time and plan --------------------------
    await page.goto(site.url + "/deployments")
    await page.locator("table.deployments tbody tr").nth(2).locator("a.badge").click()
    await page.wait_for_url(f"{site.url}/deployments/**")
    meta = page.locator("p.meta")
    assert await meta.locator("code.sha").inner_text() == first[:10]
    assert await meta.locator("code.sha").get_attribute("title") == first
    assert await meta.locator(".subject").inner_text() == "change"
    # The repository is provider "git": its commits have no page anywhere to link to.
    assert await page.locator("a[href*='github.com']").count() == 0
    assert "No text changes" not in await page.locator("#live").inner_text()
    assert (await page.locator("#changes").inner_text()).startswith("Changed ")
    when = page.locator("p.meta time")
    assert re.fullmatch(r"just now|\d+ min(\.|utes?)? ago", await when.inner_text())
    assert await when.get_attribute("datetime")
    assert re.search(r"GMT\+1|CET", await when.get_attribute("title") or "")

    # -- a rollback: its first chip has no negative time, its status is words ---------------
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{site.url}/api/v1/targets/ha/rollback",
            json={"reason": "testing"},
            headers={"Authorization": f"Bearer {token}"},
        ) as reply,
    ):
        assert reply.status == 202, await reply.text()
        rollback_id = (await reply.json())["deployment_id"]
    await page.goto(f"{site.url}/deployments/{rollback_id}")
    await page.locator("#live[data-terminal=yes]").wait_for(timeout=LIVE_TIMEOUT_MS)
    assert await page.locator("#status").inner_text() == "rolled back"
    chips = await page.locator("ol.steps li").all_inner_texts()
    assert chips[0].startswith("rollback requested"), chips
    assert not any("-" in chip for chip in chips), chips

    # -- every page, at both widths ----------------------------------------------------------
    pages = {
        "overview": "/",
        "target": "/targets/ha",
        "deployments": "/deployments",
        "dry-run": dry_url.removeprefix(site.url),
        "rollback": f"/deployments/{rollback_id}",
        "audit": "/audit",
        "live": "/events",
    }
    for width, viewport in (("375", PHONE), ("1280", DESKTOP)):
        await page.set_viewport_size(viewport)
        for name, path in pages.items():
            await page.goto(site.url + path)
            badges = await page.locator(".badge").all_inner_texts()
            assert not [b for b in badges if "_" in b], f"{name}: {badges}"
            if viewport is PHONE:
                await assert_fits_a_phone(page, name)
            await shoot(page, f"{name}-{width}")

    # The target's own page: no Target column, and a bar per finished deployment.
    await page.goto(site.url + "/targets/ha")
    headers = await page.locator("table.deployments th").all_inner_texts()
    assert "Target" not in headers and "Status" in headers
    assert await page.locator("section.stats svg.strip rect").count() == 3  # dry run aside
    await page.goto(site.url + "/")
    assert await page.locator("#targets svg.strip rect").count() == 3

    # A GitHub repository's commits link to GitHub, without the clone URL's credentials.
    await world.publish(
        RepositoryUpdated(
            repo="home/config",
            spec=RepositorySpec(
                name="home/config",
                url="https://x-access-token:s3cret@github.example.com/home/config.git",
                provider="github",
            ),
        )
    )
    link = page.locator(f"a.sha[href$='/commit/{first}']")
    await page.goto(f"{site.url}/deployments?target=ha")
    async with asyncio.timeout(20):
        while await link.count() == 0:  # until the projector has applied it
            await page.reload()
    href = await link.first.get_attribute("href")
    assert href == f"https://github.example.com/home/config/commit/{first}"
    assert "s3cret" not in await page.content()
    await context.close()


async def test_a_favicon_is_served(site: Site) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(site.url + "/favicon.ico") as reply:
            assert reply.status == 200
            assert reply.content_type == "image/svg+xml"
            assert "<svg" in await reply.text()
        async with http.get(site.url + "/login") as reply:
            assert '<link rel="icon" href="/static/favicon.svg"' in await reply.text()
