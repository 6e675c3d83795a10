"""Every service, as its own process: starts, gets ready, reports health, stops cleanly."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import pytest

from hearth.embedded.nats import EmbeddedNats
from tests.support.services import SERVICES, ServiceProcess

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_gets_ready_reports_health_and_stops_on_sigterm(
    name: str, nats_url: str, database_url: str, start_service: Callable[..., ServiceProcess]
) -> None:
    service = start_service(name, HEARTH_NATS_URL=nats_url, HEARTH_DATABASE_URL=database_url)
    ready = service.wait_for("/readyz", 200)
    assert ready["status"] == "ready"
    assert ready["checks"]["nats"] is True
    status, alive = service.get("/healthz")
    assert (status, alive["service"]) == (200, name)
    status, metrics = service.get("/metrics")
    assert status == 200
    assert f'hearth_service_up{{service="{name}"}} 1.0' in metrics
    assert "hearth_nats_connected 1.0" in metrics

    assert service.terminate() == 0
    lines = [json.loads(line) for line in service.log.read_text().splitlines() if line.strip()]
    assert lines, "no log lines"
    assert all(line.get("service") == name for line in lines)
    assert any(line["event"] == "stopped" for line in lines)


def test_database_services_report_the_database_in_readiness(
    nats_url: str, database_url: str, start_service: Callable[..., ServiceProcess]
) -> None:
    service = start_service("query-api", HEARTH_NATS_URL=nats_url, HEARTH_DATABASE_URL=database_url)
    ready = service.wait_for("/readyz", 200)
    assert ready["checks"]["database"] is True


def test_readiness_follows_nats_through_an_outage(
    nats_factory: Callable[..., EmbeddedNats], start_service: Callable[..., ServiceProcess]
) -> None:
    server = nats_factory()
    server.stop()
    service = start_service("notifier", HEARTH_NATS_URL=server.url)

    # Alive at once, not ready while NATS has never been reachable.
    service.wait_for("/healthz", 200)
    status, body = service.get("/readyz")
    assert status == 503
    assert body["checks"]["nats"] is False

    server.start()
    service.wait_for("/readyz", 200)

    server.stop()
    service.wait_for("/readyz", 503)
    server.start()
    service.wait_for("/readyz", 200)
    assert service.terminate() == 0


def test_port_already_taken_is_one_clear_line(
    nats_url: str, start_service: Callable[..., ServiceProcess]
) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        service = start_service("notifier", HEARTH_NATS_URL=nats_url, HEARTH_HTTP_PORT=str(port))
        assert service.process.wait(15) == 1
    output = service.output()
    assert "Traceback" not in output
    assert f"port 127.0.0.1:{port} is not available" in output
    assert "HEARTH_HTTP_PORT" in output


def test_an_invalid_setting_is_one_clear_line(
    nats_url: str, start_service: Callable[..., ServiceProcess]
) -> None:
    service = start_service("notifier", HEARTH_NATS_URL=nats_url, HEARTH_HTTP_PORT="eighty")
    assert service.process.wait(15) == 1
    output = service.output().strip()
    assert "Traceback" not in output
    assert output.splitlines() == [
        "notifier: setting HEARTH_HTTP_PORT is invalid: "
        "Input should be a valid integer, unable to parse string as an integer"
    ]


def test_the_deployer_relays_from_its_own_schema(
    nats_url: str, database_url: str, start_service: Callable[..., ServiceProcess]
) -> None:
    service = start_service("deployer", HEARTH_NATS_URL=nats_url, HEARTH_DATABASE_URL=database_url)
    service.wait_for("/readyz", 200)
    deadline = time.monotonic() + 15
    while not service.get("/readyz")[1]["relay"]["leader"]:  # the election runs beside start-up
        assert time.monotonic() < deadline, service.output()
        time.sleep(0.1)
    import psycopg

    with psycopg.connect(database_url) as conn:
        schemas = {
            row[0] for row in conn.execute("SELECT schema_name FROM information_schema.schemata")
        }
    assert "deployer" in schemas
    assert service.terminate() == 0


def test_an_unreachable_database_keeps_the_service_alive_and_not_ready(
    nats_url: str, start_service: Callable[..., ServiceProcess]
) -> None:
    from hearth.embedded.process import free_port

    url = f"postgresql://hearth:x@127.0.0.1:{free_port()}/hearth"
    service = start_service("device-manager", HEARTH_NATS_URL=nats_url, HEARTH_DATABASE_URL=url)
    service.wait_for("/healthz", 200)
    time.sleep(2)
    status, body = service.get("/readyz")
    assert status == 503
    assert body["checks"]["database"] is False
    assert "PostgreSQL is not reachable" in service.output()
    assert "Traceback" not in service.output()
    assert service.terminate() == 0
