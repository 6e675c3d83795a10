"""compose.yaml, validated without a Docker engine: against the published Compose
Specification schema, against the workspace, and against the architecture's ports."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hearth.stack.natsconf import (
    COMPOSE_CLUSTER_NODES,
    SERVER_NAME_VARIABLE,
    password_variable,
    render_compose_cluster_config,
    render_compose_nats_config,
)
from hearth.stack.services import SERVICES
from hearth_events.permissions import all_users

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_compose_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    import json

    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    validator.validate(compose)
    # The schema is strict enough to catch a slip.
    assert not validator.is_valid({**compose, "servics": {}})
    broken = {
        **compose,
        "services": {
            **compose["services"],
            "nats": {**compose["services"]["nats"], "healthcheck": {"interval": 5}},
        },
    }
    assert not validator.is_valid(broken)


def default_profile(compose: dict[str, Any]) -> dict[str, Any]:
    """The services `docker compose up` starts without a profile."""
    return {n: s for n, s in compose["services"].items() if "profiles" not in s}


def test_every_service_is_a_workspace_package_and_back(compose: dict[str, Any]) -> None:
    app_services = {
        n for n in default_profile(compose) if n not in ("nats", "nats-init", "postgres")
    }
    workspace = {p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file()}
    assert app_services == workspace
    for name in app_services:
        args = compose["services"][name]["build"]["args"]
        pyproject = (ROOT / "services" / name / "pyproject.toml").read_text()
        assert f'name = "{args["PACKAGE"]}"' in pyproject
        assert (ROOT / "services" / name / "src" / args["MODULE"] / "__main__.py").is_file()


def test_the_dockerfile_takes_the_arguments_compose_passes() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PACKAGE$", dockerfile, re.M)
    assert re.search(r"^ARG MODULE$", dockerfile, re.M)
    assert "uv sync --frozen --no-dev --no-editable --package" in dockerfile
    assert re.search(r"^USER hearth$", dockerfile, re.M)


def test_ports_health_checks_and_secrets(compose: dict[str, Any]) -> None:
    services = default_profile(compose)
    published = {name: s.get("ports", []) for name, s in services.items()}
    assert published["query-api"] == ["8080:8080"]
    assert published["webhook-gw"] == ["8090:8090"]
    # Devices on the LAN push to the device manager: Gen1 CoIoT and sleepers' wake-ups.
    assert published["device-manager"] == ["5683:5683/udp", "8186:8186"]
    manager = services["device-manager"]["environment"]
    assert (manager["HEARTH_COIOT_PORT"], manager["HEARTH_WAKE_WS_PORT"]) == ("5683", "8186")
    open_to_all = ("query-api", "webhook-gw", "device-manager")
    assert all(not ports for name, ports in published.items() if name not in open_to_all)
    for definition in SERVICES:
        service = services[definition.name]
        assert service["environment"]["HEARTH_HTTP_PORT"] == str(definition.port)
        assert f"{definition.port}/healthz" in " ".join(service["healthcheck"]["test"])
        # The admin declares streams and consumers first; service users may not.
        assert service["depends_on"]["nats-init"]["condition"] == ("service_completed_successfully")
        assert ("HEARTH_DATABASE_URL" in service["environment"]) == definition.uses_database
        # Each service holds only its own scope's key, never the installation key.
        assert ("HEARTH_SCOPE_KEY" in service["environment"]) == definition.uses_secrets
        assert "HEARTH_SECRET_KEY" not in service["environment"]
    assert "healthcheck" in services["nats"] and "healthcheck" in services["postgres"]
    init = services["nats-init"]
    assert init["entrypoint"] == ["python", "-m", "hearth_events.declare"]
    assert init["environment"]["HEARTH_NATS_USER"] == "admin"
    assert init["depends_on"]["nats"]["condition"] == "service_healthy"
    assert init["environment"]["HEARTH_STREAM_REPLICAS"] == "${HEARTH_STREAM_REPLICAS:-1}"
    text = (ROOT / "compose.yaml").read_text()
    assert "password" not in re.sub(r"\$\{[^}]*\}|PASSWORD", "", text).lower()


def test_the_nats_configuration_is_fresh_and_valid() -> None:
    path = ROOT / "deploy" / "nats" / "nats.conf"
    assert path.read_text() == render_compose_nats_config(), (
        "stale: run `uv run python -m hearth.stack.natsconf > deploy/nats/nats.conf`"
    )
    env = {**os.environ, **{password_variable(u.name): "x" for u in all_users()}}
    binary = Path(sys.executable).parent / "nats-server"
    result = subprocess.run(
        [str(binary), "-c", str(path), "-t"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_cluster_profile_runs_three_routed_nats_servers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    cluster = {n for n, s in services.items() if "cluster" in s.get("profiles", [])}
    nodes = {"nats", *(n for n in cluster if n.startswith("nats-"))}
    assert nodes == set(COMPOSE_CLUSTER_NODES) == {"nats", "nats-2", "nats-3"}
    names = set()
    for node in nodes:
        service = services[node]
        assert service["image"] == services["nats"]["image"]
        # The same users: every password variable, from the same .env.
        for user in all_users():
            assert password_variable(user.name) in service["environment"]
        names.add(service["environment"][SERVER_NAME_VARIABLE])
        assert "./deploy/nats:/etc/nats:ro" in service["volumes"]
        assert "healthcheck" in service
    assert names == nodes
    routes = ",".join(
        f"nats://route:${{HEARTH_NATS_PASSWORD_ROUTE}}@{node}:6222"
        for node in COMPOSE_CLUSTER_NODES
    )
    for node in ("nats-2", "nats-3"):
        assert services[node]["command"] == [
            "-c",
            "/etc/nats/nats-cluster.conf",
            "--routes",
            routes,
        ]
    for node in nodes:
        assert "HEARTH_NATS_PASSWORD_ROUTE" in services[node]["environment"]
    assert services["nats"]["command"] == ["-c", "/etc/nats/${HEARTH_NATS_CONF:-nats.conf}"]
    assert len({v for n in nodes for v in services[n]["volumes"]}) == 4  # own data each
    # The init step waits for all three when they run; alone, for `nats` only.
    init = services["nats-init"]["depends_on"]
    assert init["nats-2"] == init["nats-3"] == {"condition": "service_healthy", "required": False}
    assert "cluster" in services["nats-2"]["profiles"]
    assert services["nats"]["image"] >= "nats:2.12"


def test_the_cluster_profile_runs_a_second_instance_of_each_stateless_service(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    stateless = {d.name for d in SERVICES if d.name != "provisioner"}  # an agent per site
    seconds = {
        n.removesuffix("-2")
        for n, s in services.items()
        if "cluster" in s.get("profiles", []) and not n.startswith("nats")
    }
    assert seconds == stateless
    published = set()
    for name in stateless:
        first, second = services[name], services[f"{name}-2"]
        assert second["build"] == first["build"]
        assert second["environment"]["HEARTH_INSTANCE"] == f"{name}-2"
        assert {k: v for k, v in second["environment"].items() if k != "HEARTH_INSTANCE"} == {
            k: v for k, v in first["environment"].items() if k != "HEARTH_INSTANCE"
        }
        assert second["volumes"] != first["volumes"]
        published |= set(second.get("ports", []))
        assert second["environment"]["HEARTH_NATS_URL"] == "${HEARTH_NATS_URLS:-nats://nats:4222}"
    assert published == {"8081:8080", "8091:8090"}


def test_the_cluster_nats_configuration_is_fresh_and_valid() -> None:
    path = ROOT / "deploy" / "nats" / "nats-cluster.conf"
    assert path.read_text() == render_compose_cluster_config(), (
        "stale: run `uv run python -m hearth.stack.natsconf --cluster > "
        "deploy/nats/nats-cluster.conf`"
    )
    env = {**os.environ, SERVER_NAME_VARIABLE: "nats-2"}
    env.update({password_variable(u.name): "x" for u in all_users()})
    env["HEARTH_NATS_PASSWORD_ROUTE"] = "x"
    binary = Path(sys.executable).parent / "nats-server"
    result = subprocess.run(
        [str(binary), "-c", str(path), "-t"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    # Routes are admitted only with the route password; no route URL (with it) is in the file.
    assert 'authorization { user: "route", password: $HEARTH_NATS_PASSWORD_ROUTE }' in (
        path.read_text()
    )
    assert "routes:" not in path.read_text()
