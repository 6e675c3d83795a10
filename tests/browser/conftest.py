"""A real deployer and the real query API, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest

from tests.integration.deployer.conftest import world  # noqa: F401 (a fixture)
from tests.integration.deployer.harness import World
from tests.support.services import ServiceProcess

CHROMIUM = "/usr/bin/chromium"
# Headless on a closed network: without the background-networking flags Chromium keeps
# trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class Site:
    url: str
    nats_url: str
    tokens: dict[str, str]

    async def token(self, name: str, role: str) -> str:
        nc = await nats.connect(self.nats_url)
        try:
            reply = await nc.request(
                "hearth.cmd.query.CreateToken",
                json.dumps({"name": name, "role": role}).encode(),
                timeout=10,
            )
        finally:
            await nc.close()
        token: str = json.loads(reply.data)["token"]
        self.tokens[name] = token
        return token

    async def revoke(self, name: str) -> None:
        nc = await nats.connect(self.nats_url)
        try:
            await nc.request(
                "hearth.cmd.query.RevokeToken", json.dumps({"name": name}).encode(), timeout=10
            )
        finally:
            await nc.close()


@pytest.fixture
async def site(world: World, start_service: Callable[..., ServiceProcess]) -> AsyncIterator[Site]:  # noqa: F811
    api = start_service(
        "query-api", HEARTH_NATS_URL=world.nats_url, HEARTH_DATABASE_URL=world.database_url
    )
    api.wait_for("/readyz", 200)
    yield Site(f"http://127.0.0.1:{api.port}", world.nats_url, {})


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
