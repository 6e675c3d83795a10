"""Fixtures for deployments end to end on real parts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hearth.embedded.nats import EmbeddedNats
from tests.integration.deployer.harness import World
from tests.support.git import make_remote


@pytest.fixture
async def world(
    nats_factory: Callable[..., EmbeddedNats],
    database_url: str,
    tmp_path: Path,
    sshd: Any,
    ha_sim: Any,
) -> AsyncIterator[World]:
    """The world of one deployment test; Home Assistant judges what sshd's user holds.

    A private NATS server each: the deployer's durable consumer must not see the pushes
    of another test."""
    ha_sim.config_dir = sshd.remote_root
    world = World(
        nats_factory().url, database_url, tmp_path / "data", make_remote(tmp_path / "git")
    )
    await world.open()
    await world.secret("ssh-key", sshd.client_key.read_text())
    await world.secret("ha-token", ha_sim.token)
    await world.repository()
    yield world
    await world.close()
