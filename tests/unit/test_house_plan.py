"""Every converted service has the house plan's rooms (docs/design.md, "Layout"), and nothing
else at its top.

``domain/`` (pure rules), ``handlers.py`` (every reaction), ``adapters/`` (clients behind
ports), ``entrypoints/`` (``python -m``, routes, timers), ``bootstrap.py`` (the wiring) and,
where a service has them, ``workflows/`` (multi-step operations) and ``settings.py``.
The rooms are read from the source tree; nothing is imported here.
"""

from __future__ import annotations

from collections.abc import Collection
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
#: Everything a service's top level may hold: the rooms, the rooms a service has only when it
#: needs them, and the package's own files.
ALLOWED_TOP = {
    "__init__.py",
    "__main__.py",
    "py.typed",
    "bootstrap.py",
    "handlers.py",
    "settings.py",
    "domain",
    "adapters",
    "entrypoints",
    "workflows",
}
#: Rooms one service has beyond the plan, each with the reason it is not one of the plan's.
SERVICE_ROOMS: dict[str, set[str]] = {
    # The SSH side: its own port (remote/port.py), its adapters and their fakes; too large
    # and too separate to sit among the other adapters.
    "deployer": {"remote"},
    # One module per read model, the projector's reactions: handlers.py could not hold them.
    "query-api": {"projections"},
}
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


def loose_entries(package: Path, extra: Collection[str] = ()) -> list[str]:
    allowed = ALLOWED_TOP | set(extra)
    return sorted(
        entry.name + ("/" if entry.is_dir() else "")
        for entry in package.iterdir()
        if entry.name not in allowed and entry.name != "__pycache__"
    )


@pytest.mark.parametrize("service", sorted(CONVERTED))
def test_the_service_has_nothing_outside_the_rooms(service: str) -> None:
    loose = loose_entries(package_of(service), SERVICE_ROOMS.get(service, ()))
    assert not loose, (
        f"{service} has {', '.join(loose)} outside the rooms: move it into one "
        "(docs/design.md, the house plan) or name the new room in SERVICE_ROOMS with its reason"
    )


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
    other_rooms = tuple(
        f"{name}.{room}" for room in ("adapters", "entrypoints", "handlers", "workflows")
    )
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


def test_a_loose_module_beside_the_rooms_is_named(tmp_path: Path) -> None:
    for room in ("domain", "workflows", "remote"):
        (tmp_path / room).mkdir()
    for name in ("__init__.py", "handlers.py", "operations.py", "py.typed"):
        (tmp_path / name).write_text("")
    assert loose_entries(tmp_path) == ["operations.py", "remote/"]
    assert loose_entries(tmp_path, {"remote"}) == ["operations.py"]
