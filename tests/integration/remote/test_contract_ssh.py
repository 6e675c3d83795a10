"""The RemoteHost contract (tests/contract/remote_host.py) on a real OpenSSH sshd."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
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
    """The same contract with every file operation of a test sharing one SFTP session, as
    a deployment's do (``session_scope``)."""

    @pytest.fixture(autouse=True)
    def scoped(self) -> Iterator[SessionScope]:
        scope = SessionScope()
        token = port._SCOPE.set(scope)  # set here, so the test's task starts inside it
        yield scope
        port._SCOPE.reset(token)

    @pytest.fixture(autouse=True)
    async def closed(self, scoped: SessionScope) -> AsyncIterator[None]:
        yield
        for close in reversed(scoped.closers):
            await close()

    async def test_the_scope_holds_one_session(
        self, host: RemoteHost, places: Places, scoped: SessionScope
    ) -> None:
        assert port.current_scope() is scoped
        await host.upload(places.root, [UploadFile("a.txt", data=b"a")])
        assert await host.read_files(places.root, ["a.txt"], limit=10) == {"a.txt": b"a"}
        assert len(scoped.sessions) == 1 and len(scoped.closers) == 1

    async def test_a_lost_connection_ends_the_shared_session_and_the_next_reconnects(
        self, host: RemoteHost, places: Places, scoped: SessionScope, pool: HostPool
    ) -> None:
        await host.upload(places.root, [UploadFile("a.txt", data=b"a")])
        ((_, pooled),) = scoped.sessions.values()
        pooled.conn.abort()  # the network between the deployer and the host went away
        with pytest.raises(RemoteError, match="Connection closed"):
            await host.read_files(places.root, ["a.txt"], limit=10)
        assert not scoped.sessions and pooled.lost
        assert await host.read_files(places.root, ["a.txt"], limit=10) == {"a.txt": b"a"}
        ((_, again),) = scoped.sessions.values()
        assert again is not pooled and not again.lost
