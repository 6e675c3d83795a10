from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hearth.embedded.nats import EmbeddedNats, cluster_of
from tests.support.ports import quiet_ports


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[EmbeddedNats]]:
    """Three routed JetStream servers on loopback (no users: the admin is everyone)."""
    members = cluster_of(tmp_path / "nats", quiet_ports(3), quiet_ports(3))
    for member in members:
        member.start()
    yield members
    for member in members:
        member.kill()
