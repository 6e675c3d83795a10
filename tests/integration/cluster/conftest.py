from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hearth.embedded.nats import EmbeddedNats, cluster_of
from hearth.embedded.process import free_port


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[EmbeddedNats]]:
    """Three routed JetStream servers on loopback (no users: the admin is everyone)."""
    members = cluster_of(
        tmp_path / "nats", [free_port() for _ in range(3)], [free_port() for _ in range(3)]
    )
    for member in members:
        member.start()
    yield members
    for member in members:
        member.kill()
