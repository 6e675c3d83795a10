"""Polling a real Git repository through the gateway process; webhook and poll agree."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from hearth.embedded.nats import EmbeddedNats
from tests.integration.webhook_gw.test_gateway import (
    SECRET,
    apply_repositories,
    post,
    setup_bus,
    stored_pushes,
)
from tests.support.git import make_remote
from tests.support.github import delivery_headers, encode, push_payload
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration

POLL_S = 10  # the shortest interval Hearth accepts


async def wait_for_pushes(url: str, count: int, timeout: float) -> list[tuple[str, str]]:
    async with asyncio.timeout(timeout):
        while len(found := await stored_pushes(url)) < count:
            await asyncio.sleep(0.5)
    return found


async def test_a_polled_repository_publishes_new_heads_once(
    tmp_path: Path,
    nats_factory: Callable[..., EmbeddedNats],
    start_service: Callable[..., ServiceProcess],
) -> None:
    server = nats_factory()
    url = server.url
    remote = make_remote(tmp_path)
    remote.commit({"configuration.yaml": "homeassistant:\n"})
    first = remote.push()

    await setup_bus(url)
    gateway = start_service("webhook-gw", HEARTH_NATS_URL=url)
    gateway.wait_for("/readyz", 200)
    await apply_repositories(
        url,
        [
            {
                "name": "alice/home-config",
                "url": remote.url,
                "provider": "git",
                "webhook_secret": "alice-webhook",
                "poll_interval_s": POLL_S,
            }
        ],
    )

    # The first poll reports the branch as new.
    found = await wait_for_pushes(url, 1, timeout=15)
    assert [after for _, after in found] == [first]

    # A push that also arrives by webhook is stored once: the poll knows its head already.
    second = remote.commit({"automations.yaml": "[]\n"})
    remote.push()
    body = encode(push_payload(before=first, after=second))
    status, _ = post(gateway.port, "push", body, delivery_headers("push", body, SECRET))
    assert status == 202

    # A push that only the poll sees.
    third = remote.commit({"scripts.yaml": "{}\n"})
    remote.push()
    found = await wait_for_pushes(url, 3, timeout=POLL_S * 2 + 5)
    assert [after for _, after in found] == [first, second, third]
    await asyncio.sleep(POLL_S + 1)  # one more poll cycle publishes nothing new
    assert len(await stored_pushes(url)) == 3
