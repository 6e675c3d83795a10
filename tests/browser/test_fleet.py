"""The fleet in headless Chromium, on a phone: the overview's device counts, the fleet list
filtered to what drifted, a device with its drift diff and live status (updating as the
KV bucket changes), a button answered by the device manager, and the page turning green
when the drift is resolved."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import nats
import pytest

from hearth_events import escape_token, new_event
from hearth_events.catalogue import DriftResolved
from hearth_events.jetstream import DEVICE_STATUS_BUCKET
from hearth_events.publish import publish_event
from hearth_query_api.adapters.samples import save_samples
from hearth_query_api.adapters.schema import SCHEMA
from hearth_query_api.domain.samples import BUCKET_S, Sample
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_dashboard_looks import PHONE, assert_fits_a_phone, shoot
from tests.integration.query_api.conftest import Api, api  # noqa: F401 (a fixture)
from tests.support.fleet import HALL, KITCHEN, PORCH

pytestmark = pytest.mark.integration

LIVE_TIMEOUT_MS = 30_000


def live_status(apower: float) -> bytes:
    status = {"online": True, "address": "10.0.0.11", "model": "SNSW-001P16EU", "gen": 2}
    status |= {"cfg_rev": 12, "update": "1.5.0"}
    status["components"] = {"switch:0": {"output": True, "apower": apower}}
    return json.dumps(status).encode()


async def sign_in(page: Any, api: Api, role: str) -> None:  # noqa: F811 (the fixture's type)
    await page.goto(api.base + "/login")
    await page.fill("input[name=token]", api.tokens[role])
    await page.click("button[type=submit]")
    await page.wait_for_url(api.base + "/")


async def day_of_samples(database_url: str, device_id: str) -> None:
    """The last day of the kitchen's power and Wi-Fi signal, as the sampler stores it."""
    now = time.time() // BUCKET_S * BUCKET_S
    samples = [
        Sample(
            device_id=device_id,
            bucket=datetime.fromtimestamp(now - n * BUCKET_S, UTC),
            power_w=12.5 + n % 7,
            power_max_w=20.0 + n % 7,
            rssi_dbm=-64.0 - n % 3,
            rssi_min_dbm=-67,
            online=1.0,
        )
        for n in range(1, 120)
    ]
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": SCHEMA})
    await save_samples(pool, samples, datetime.now(UTC))
    await pool.close()


async def test_fleet_list_to_a_drifted_device_with_live_status(
    api: Api,  # noqa: F811
    browser: Any,
    database_url: str,
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await day_of_samples(database_url, KITCHEN)
    nc = await nats.connect(api.nats_url)
    js = nc.jetstream()
    kv = await js.key_value(DEVICE_STATUS_BUCKET)
    await kv.put(escape_token(KITCHEN), live_status(12.5))
    asked: list[dict[str, Any]] = []

    async def device_manager(message: Any) -> None:
        asked.append(json.loads(message.data))
        await message.respond(json.dumps({"ok": True, "fields": ["switch:0.auto_off"]}).encode())

    await nc.subscribe("hearth.cmd.device.Apply", cb=device_manager)
    page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        await sign_in(page, api, "operator")
        counts = await page.locator("#overview-devices").inner_text()
        assert "3 devices" in counts and "1 offline" in counts and "1 drifted" in counts

        await page.click("nav a[href='/devices']")
        await page.wait_for_url(api.base + "/devices")
        rows = page.locator("table.devices tbody tr")
        assert [await r.get_attribute("data-device") for r in await rows.all()] == [
            PORCH,
            HALL,
            KITCHEN,
        ]
        await page.check("input[name=drift]")
        await page.click("#device-filters button[type=submit]")
        await page.wait_for_url("**/devices?*drift=true*")
        assert [await r.get_attribute("data-device") for r in await rows.all()] == [KITCHEN]
        await page.screenshot(path=str(SCREENSHOTS / "fleet.png"), full_page=True)

        await page.click("table.devices a:text('kitchen')")
        await page.wait_for_url(f"{api.base}/devices/{KITCHEN}")
        difference = page.locator("#drift tr.difference")
        assert await difference.locator("td").first.inner_text() == "switch:0.auto_off"
        assert await difference.locator("code.desired").inner_text() == "true"
        assert await difference.locator("code.actual").inner_text() == "false"
        live = page.locator("#live-body")
        shown = await live.inner_text()
        assert "apower 12.5 W" in shown and "update 1.5.0 offered" in shown
        # Graphs where people would rather look than read: the day's power and signal.
        assert await page.locator("#power-chart path.line").count() == 1
        legends = await page.locator("#live ~ .stats .legend").all_inner_texts()
        assert any("now 13.5 W" in text and "peak 26.0 W" in text for text in legends), legends
        assert any("fair signal" in text and "now -65 dBm" in text for text in legends), legends

        # The live panel follows the KV bucket without a reload.
        await kv.put(escape_token(KITCHEN), live_status(30.0))
        await live.filter(has_text="apower 30.0 W").wait_for(timeout=LIVE_TIMEOUT_MS)
        await page.screenshot(path=str(SCREENSHOTS / "device.png"), full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing sticks out sideways on a phone

        await page.click("#apply-button")
        await page.locator("#notice", has_text="Apply asked").wait_for()
        assert asked == [{"device_id": KITCHEN, "actor": "token:ops"}]

        # The device manager converged it: the page turns green by itself.
        resolved = DriftResolved(device_id=KITCHEN, how="applied")
        await publish_event(js, new_event(resolved, source="device-manager", actor="hearth"))
        await page.locator("#drift .badge.ok", has_text="in sync").wait_for(timeout=LIVE_TIMEOUT_MS)
        assert await page.locator("h1 .badge.warn").count() == 0
    finally:
        await page.close()
        await nc.close()


async def test_every_fleet_page_fits_a_phone(api: Api, browser: Any) -> None:  # noqa: F811
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.goto(api.base + "/login")
    await page.fill("input[name=token]", api.tokens["admin"])
    await page.click("button[type=submit]")
    await page.wait_for_url(api.base + "/")
    pages = {
        "overview-devices": "/",
        "devices": "/devices",
        "devices-page-2": "/devices?limit=1&cursor=3",
        "device-drifted": f"/devices/{KITCHEN}",
        "device-offline": "/devices/hall",
        "device-not-adopted": f"/devices/{PORCH}",
        "rollouts": "/rollouts",
        "rollout-halted": "/rollouts/ro-2",
    }
    try:
        for name, path in pages.items():
            reply = await page.goto(api.base + path)
            assert reply is not None and reply.status == 200, name
            badges = await page.locator(".badge").all_inner_texts()
            assert not [b for b in badges if "_" in b], f"{name}: {badges}"
            await assert_fits_a_phone(page, name)
            await shoot(page, f"{name}-375")
        assert "Halted at" in await page.locator("p.error").inner_text()
        assert await page.locator("table.rollout-devices").count() == 2  # canaries, wave 1
    finally:
        await context.close()


async def test_an_admin_adopts_and_releases_a_device_from_its_page(
    api: Api,  # noqa: F811
    browser: Any,
) -> None:
    """Adoption "on an operator's click": an admin adopts a device Hearth only sees, under
    a name, and releases an adopted one; the device manager's refusal is shown in one
    line; an operator sees neither button."""
    nc = await nats.connect(api.nats_url)
    asked: list[tuple[str, dict[str, Any]]] = []

    async def device_manager(message: Any) -> None:
        body = json.loads(message.data)
        asked.append((message.subject.rsplit(".", 1)[1], body))
        if message.subject.endswith("Release"):
            refusal = f"{body['device_id']} is named in hearth.yaml; take it out there"
            await message.respond(json.dumps({"ok": False, "error": refusal}).encode())
        else:
            await message.respond(json.dumps({"ok": True, "name": body.get("name")}).encode())

    await nc.subscribe("hearth.cmd.device.Adopt", cb=device_manager)
    await nc.subscribe("hearth.cmd.device.Release", cb=device_manager)
    page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        await sign_in(page, api, "operator")
        await page.goto(f"{api.base}/devices/{PORCH}")
        assert await page.locator("#management").count() == 0
        await page.context.clear_cookies()

        await sign_in(page, api, "admin")
        await page.goto(f"{api.base}/devices/{PORCH}")
        assert await page.locator("#release-button").count() == 0
        await page.fill("#management input[name=name]", "porch-light")
        await page.click("#adopt-button")
        await page.locator("#notice", has_text="Adopt asked").wait_for()
        adopt = {"device_id": PORCH, "name": "porch-light", "actor": "token:root"}
        assert asked == [("Adopt", adopt)]
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390

        await page.goto(f"{api.base}/devices/{KITCHEN}")
        await page.screenshot(path=str(SCREENSHOTS / "device-admin.png"), full_page=True)
        assert await page.locator("#adopt-button").count() == 0
        await page.click("#release-button")
        alert = page.locator("p.error[role=alert]")
        await alert.wait_for()
        assert await alert.inner_text() == f"{KITCHEN} is named in hearth.yaml; take it out there"
        assert asked[1] == ("Release", {"device_id": KITCHEN, "actor": "token:root"})
    finally:
        await page.close()
        await nc.close()
