"""The RemoteHost contract (tests/contract/remote_host.py) on a real OpenSSH sshd."""

from __future__ import annotations

from typing import Any

import pytest

from hearth_deployer.remote import HostPool, SSHHost
from tests.contract.remote_host import MakeHost, Places, RemoteHostContract
from tests.integration.remote.conftest import target_for

pytestmark = pytest.mark.integration


class TestSSHHost(RemoteHostContract):
    @pytest.fixture
    def make_host(self, pool: HostPool, sshd: Any) -> MakeHost:
        return lambda fence: SSHHost(pool, target_for(sshd), fence)

    @pytest.fixture
    def places(self, sshd: Any) -> Places:
        return Places(str(sshd.remote_root), str(sshd.workdir / "backups"))
