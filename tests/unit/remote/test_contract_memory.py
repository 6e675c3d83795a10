"""The RemoteHost contract (tests/contract/remote_host.py) on the in-memory host."""

from __future__ import annotations

import pytest

from hearth_deployer.remote import MemoryHost
from tests.contract.remote_host import MakeHost, Places, RemoteHostContract


class TestMemoryHost(RemoteHostContract):
    @pytest.fixture
    def make_host(self) -> MakeHost:
        return MemoryHost("box", roots=["/srv/config"]).fenced

    @pytest.fixture
    def places(self) -> Places:
        return Places("/srv/config", "/srv/backups")
