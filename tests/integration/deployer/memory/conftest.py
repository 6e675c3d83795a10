"""Deployments end to end on real NATS, PostgreSQL, Git and the Home Assistant simulator,
with the target host in memory: the workflow's behaviour, without sshd.

The promises that need a real host (atomic uploads, byte-identical restores, a full disk,
host keys, kill -9) stay in the tests one directory up, on OpenSSH."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hearth.embedded.nats import EmbeddedNats
from tests.integration.deployer.harness import World
from tests.support.git import make_remote
from tests.support.memhost import MemoryBox


@pytest.fixture
def box(tmp_path: Path) -> MemoryBox:
    return MemoryBox(tmp_path / "box" / "config")


@pytest.fixture
async def world(
    nats_factory: Callable[..., EmbeddedNats],
    database_url: str,
    tmp_path: Path,
    box: MemoryBox,
    ha_sim: Any,
) -> AsyncIterator[World]:
    """The world of one deployment test; Home Assistant judges what the box holds."""
    ha_sim.config_dir = box.remote_root
    world = World(
        nats_factory().url,
        database_url,
        tmp_path / "data",
        make_remote(tmp_path / "git"),
        hosts=box.hosts,
    )
    await world.open()
    await world.secret("ssh-key", box.client_key_text)
    await world.secret("ha-token", ha_sim.token)
    await world.repository()
    yield world
    await world.close()
