"""Roll back from an old deployment's page in Chromium, against a real deployer and sshd.

It must restore the state before *that* deployment (not the newest backup), say so before
it does, land on a page that exists, and a second press must not undo the first.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Site
from tests.browser.test_dashboard import LIVE_TIMEOUT_MS, sign_in
from tests.integration.deployer.harness import World
from tests.integration.deployer.test_deployments import AUTOMATIONS, deploy_base

pytestmark = pytest.mark.integration


async def test_roll_back_an_old_deployment_once(
    world: World, site: Site, sshd: Any, ha_sim: Any, browser: Any
) -> None:
    token = await site.token("alice", "operator")
    await deploy_base(world, sshd, ha_sim)
    automations = sshd.remote_root / "automations.yaml"
    await world.push({"automations.yaml": AUTOMATIONS + "# one\n"})
    await world.wait_terminal("ha", count=2)
    await world.push({"automations.yaml": AUTOMATIONS + "# two\n"})
    _, old, newest = await world.wait_terminal("ha", count=3)
    assert newest.type == "DeploymentSucceeded"
    assert automations.read_text().endswith("# two\n")
    old_id = old.data.deployment_id  # type: ignore[attr-defined]
    (old_backup,) = [
        e.data.backup_id  # type: ignore[attr-defined]
        for e in await world.deployment_events(old_id)
        if e.type == "BackupTaken"
    ]

    page = await browser.new_page()
    prompts: list[str] = []
    documents: list[tuple[int, str]] = []

    async def accept(dialog: Any) -> None:
        prompts.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    page.on(
        "response",
        lambda r: (
            documents.append((r.status, r.url)) if r.request.resource_type == "document" else None
        ),
    )
    await sign_in(page, site, token)
    await page.goto(f"{site.url}/deployments/{old_id}")
    await page.click("#rollback")
    await page.locator("#status[data-status=rolled_back]").wait_for(timeout=LIVE_TIMEOUT_MS)
    assert f"Restore backup {old_backup} on ha" in prompts[0]
    assert f"before deployment {old_id[:8]}" in prompts[0]
    # The state before that deployment: the first deployment's files, not "# one".
    assert automations.read_text() == AUTOMATIONS
    assert [s for s, _ in documents if s >= 400] == [], documents
    assert await page.locator("#rollback").inner_text() == "Undo this rollback"

    # Pressed again from the old deployment's page: answered, not repeated or undone.
    await page.goto(f"{site.url}/deployments/{old_id}")
    await page.click("#rollback")
    alert = page.locator("[role=alert]")
    await alert.wait_for()
    assert f"ha was already rolled back to backup {old_backup}" in await alert.inner_text()
    assert await page.locator("#problem-link").count() == 1
    requested = [e for e in await world.events("ha") if e.type == "RollbackRequested"]
    assert len(requested) == 1
    assert automations.read_text() == AUTOMATIONS
    await page.close()
