"""Fixtures for the device manager on real parts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hearth.embedded.nats import EmbeddedNats
from tests.integration.device_manager.harness import World


@pytest.fixture
async def world(
    nats_factory: Callable[..., EmbeddedNats], database_url: str, tmp_path: Path
) -> AsyncIterator[World]:
    """A private NATS server each: device events of another test must not be seen."""
    world = World(nats_factory().url, database_url, tmp_path / "data")
    await world.open()
    yield world
    await world.close()
