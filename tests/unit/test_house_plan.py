"""Every converted service has the house plan's rooms (docs/design.md, "Layout").

``domain/`` (pure rules), ``handlers.py`` (every reaction), ``adapters/`` (clients behind
ports), ``entrypoints/`` (``python -m``, routes, timers) and ``bootstrap.py`` (the wiring).
The rooms are read from the source tree; nothing is imported here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_import_cycles import ROOT, imported_names

#: The services in the house plan: every one; a new service starts in the plan and is
#: added here.
CONVERTED = {
    "deployer": "hearth_deployer",
    "webhook-gw": "hearth_webhook_gw",
    "notifier": "hearth_notifier",
    "query-api": "hearth_query_api",
    "provisioner": "hearth_provisioner",
    "device-manager": "hearth_device_manager",
}
ROOM_PACKAGES = ("domain", "adapters", "entrypoints")
ROOM_MODULES = ("handlers.py", "bootstrap.py")
#: Libraries that do I/O: the domain imports none of them.
IO_LIBRARIES = (
    "aiohttp",
    "apprise",
    "asyncpg",
    "asyncssh",
    "githubkit",
    "nats",
    "psycopg",
    "socket",
    "subprocess",
)


def package_of(service: str) -> Path:
    return ROOT / "services" / service / "src" / CONVERTED[service]


def missing_rooms(package: Path) -> list[str]:
    missing = [
        f"{room}/" for room in ROOM_PACKAGES if not (package / room / "__init__.py").exists()
    ]
    missing += [room for room in ROOM_MODULES if not (package / room).is_file()]
    return missing


@pytest.mark.parametrize("service", sorted(CONVERTED))
def test_the_service_has_every_room(service: str) -> None:
    missing = missing_rooms(package_of(service))
    assert not missing, f"{service} lacks {', '.join(missing)} (docs/design.md, Layout)"


@pytest.mark.parametrize("service", sorted(CONVERTED))
def test_python_m_goes_through_the_entrypoints(service: str) -> None:
    package = package_of(service)
    name = CONVERTED[service]
    imported = imported_names(package / "__main__.py", f"{name}.__main__")
    assert any(i.startswith(f"{name}.entrypoints.") for i in imported), imported


@pytest.mark.parametrize("service", sorted(CONVERTED))
def test_the_domain_does_no_io_and_knows_no_other_room(service: str) -> None:
    package = package_of(service)
    name = CONVERTED[service]
    other_rooms = tuple(f"{name}.{room}" for room in ("adapters", "entrypoints", "handlers"))
    found = []
    for path in sorted((package / "domain").rglob("*.py")):
        module = ".".join((name, *path.relative_to(package).with_suffix("").parts))
        for imported in imported_names(path, module):
            top = imported.split(".")[0]
            if top in IO_LIBRARIES or imported.startswith(other_rooms):
                found.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not found, "; ".join(found)


def test_a_service_missing_a_room_is_named(tmp_path: Path) -> None:
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / "__init__.py").write_text("")
    (tmp_path / "bootstrap.py").write_text("")
    assert missing_rooms(tmp_path) == ["adapters/", "entrypoints/", "handlers.py"]
