"""Session fixtures: a private NATS (JetStream) and a private PostgreSQL for the test run.

``HEARTH_TEST_NATS_URL`` / ``HEARTH_TEST_DATABASE_URL`` point the shared fixtures at
existing servers instead; tests that must stop or kill a server always start their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats
import psycopg
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import free_port
from tests.support.services import start_service  # noqa: F401  (a fixture)

#: The test files that take longest (each starts whole stacks, clusters or kill trials),
#: in the order they start. ``scripts/test`` runs xdist with ``--dist loadfile
#: --no-loadscope-reorder``, so files go to workers in collection order: long files first,
#: the many quick unit files last to fill the gaps, and the run does not end with one long
#: file running alone. (xdist's own reorder puts the files with most tests first, which
#: are the quick ones.)
LONG_FIRST = (
    "tests/integration/stack/test_first_run.py",
    "tests/integration/deployer/test_kill.py",
    "tests/integration/stack/test_cluster_up.py",
    "tests/integration/deployer/test_cli.py",
    "tests/integration/notifier/test_notifier.py",
    "tests/integration/stack/",
    "tests/integration/cluster/",
    "tests/integration/bench/",
    "tests/integration/eventstore/",
    "tests/integration/deployer/",
    "tests/browser/",
    "tests/integration/",
)


def _start_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    for rank, prefix in enumerate(LONG_FIRST):
        if path.startswith(prefix):
            return rank
    return len(LONG_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long files first (a stable sort: a file's tests keep their order)."""
    items.sort(key=_start_rank)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any) -> Iterator[None]:
    """The failed tests' names once more, last and one line each: on CI the short summary
    carries whole messages, and a long one pushed the names out of what CI shows."""
    yield
    lines = [
        f"{kind} {report.nodeid} ({report.when})"
        for kind, key in (("FAILED", "failed"), ("ERROR", "error"))
        for report in terminalreporter.stats.get(key, [])
        if getattr(report, "nodeid", None)
    ]
    if lines:
        terminalreporter.write_sep("=", "failed, by name")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _forget_secret_values() -> Iterator[None]:
    """Services in this process remember the secret values they decrypt (to redact them);
    one test's values must not mask another test's text."""
    yield
    from hearth_servicekit.redaction import forget_all

    forget_all()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("HEARTH_TEST_NATS_URL"):
        yield url
        return
    server = EmbeddedNats(tmp_path_factory.mktemp("nats"), port=free_port())
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def nats_factory(tmp_path: Path) -> Iterator[Callable[..., EmbeddedNats]]:
    """Start private NATS servers that a test may stop, kill and restart."""
    started: list[EmbeddedNats] = []

    def make(**options: Any) -> EmbeddedNats:
        server = EmbeddedNats(tmp_path / f"nats-{len(started)}", port=free_port(), **options)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.kill()


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("HEARTH_TEST_DATABASE_URL"):
        yield url
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres"), port=free_port())
    server.start()
    yield server.dsn()
    server.stop(mode="immediate")


def with_database(url: str, database: str) -> str:
    """The same server URL with another database (URL form: asyncpg and psycopg take it)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


@pytest.fixture
def database_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"hearth_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_database(postgres_admin_url, name)
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Any]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest.fixture
async def js(nc: Any) -> Any:
    return nc.jetstream()


@pytest.fixture
async def github_sim() -> AsyncIterator[Any]:
    """A local GitHub-compatible API on a free port (``sim.base_url``)."""
    from aiohttp import web

    from tests.support.github_sim import GitHubSim

    sim = GitHubSim()
    runner = web.AppRunner(sim.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    sim.base_url = f"http://127.0.0.1:{port}"
    yield sim
    await runner.cleanup()


@pytest.fixture
async def ha_sim(tmp_path: Path) -> AsyncIterator[Any]:
    """A simulated Home Assistant judging the files in ``sim.config_dir``."""
    from tests.support.ha_sim import HomeAssistantSim

    config_dir = tmp_path / "ha-config"
    config_dir.mkdir()
    # Not "ha-token", the secret's name: the deployer redacts the value it decrypts.
    sim = HomeAssistantSim(config_dir=config_dir, token="test-ha-access-token")
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Any]:
    from tests.support.receivers import HttpReceiver

    server = HttpReceiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    from tests.support.receivers import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()


# -- OpenSSH sshd on loopback (deployer remote-host layer) ------------------------------


@pytest.fixture(scope="session")
def ssh_client_key(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One ed25519 client key for the whole run (``.path``, ``.public_line``)."""
    from tests.support.sshd import ClientKey

    return ClientKey.generate(tmp_path_factory.mktemp("ssh-client"))


@pytest.fixture
def sshd_factory(ssh_client_key: Any) -> Iterator[Callable[..., Any]]:
    """Start private sshd instances: ``sshd_factory(user=..., max_sessions=...)``."""
    from tests.support.sshd import cleanup, start_sshd

    started: list[Any] = []

    def make(**options: Any) -> Any:
        server = start_sshd(ssh_client_key, **options)
        started.append(server)
        return server

    yield make
    for server in started:
        cleanup(server)


@pytest.fixture
def sshd(sshd_factory: Callable[..., Any]) -> Any:
    """A running sshd for the current user: host, port, user, client_key, host_key_line,
    remote_root (an empty directory the user owns)."""
    return sshd_factory()
