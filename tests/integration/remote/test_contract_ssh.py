"""The RemoteHost contract (tests/contract/remote_host.py) on a real OpenSSH sshd."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hearth_deployer.remote import HostPool, SSHHost, port
from hearth_deployer.remote.errors import RemoteError
from hearth_deployer.remote.port import RemoteHost, SessionScope, UploadFile
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


class TestSSHHostInOneSession(TestSSHHost):
    """The same contract with every operation of a test inside one ``session_scope``, as a
    deployment's are: each root resolved once."""

    @pytest.fixture(autouse=True)
    def scoped(self) -> Iterator[SessionScope]:
        scope = SessionScope()
        token = port._SCOPE.set(scope)  # set here, so the test's task starts inside it
        yield scope
        port._SCOPE.reset(token)

    async def test_the_scope_remembers_the_root(
        self, host: RemoteHost, places: Places, scoped: SessionScope
    ) -> None:
        assert port.current_scope() is scoped
        await host.upload(places.root, [UploadFile("a.txt", data=b"a")])
        assert await host.read_files(places.root, ["a.txt"], limit=10) == {"a.txt": b"a"}
        assert list(scoped.roots.values()) == [places.root]

    async def test_a_lost_connection_ends_the_shared_session_and_the_next_reconnects(
        self, host: RemoteHost, places: Places, pool: HostPool, sshd: Any
    ) -> None:
        await host.upload(places.root, [UploadFile("a.txt", data=b"a")])
        pooled = pool._connections[target_for(sshd).key]
        assert pooled.sftp is not None
        pooled.conn.abort()  # the network between the deployer and the host went away
        with pytest.raises(RemoteError, match="lost during an operation"):
            await host.read_files(places.root, ["a.txt"], limit=10)
        assert pooled.lost
        assert await host.read_files(places.root, ["a.txt"], limit=10) == {"a.txt": b"a"}
        again = pool._connections[target_for(sshd).key]
        assert again is not pooled and not again.lost and again.sftp is not pooled.sftp
