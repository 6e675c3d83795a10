"""The demo on machines with and without an OpenSSH server: every secret it stores has a reader.
Its simulated Shelly devices are declared with their desired config, Gen1 only where the
demo may bind port 80 (root)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

import hearth.demo.launch
from hearth.demo import fleet
from hearth.demo.launch import start_demo
from hearth.secret_scopes import infer_scopes
from tests.support.stack import free_ports


@pytest.mark.parametrize("sshd", ["installed", "missing"])
def test_every_demo_secret_has_a_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd: str
) -> None:
    if sshd == "missing":  # a fresh machine without openssh-server: the demo has no target
        monkeypatch.setattr(hearth.demo.launch, "find_sshd", lambda: None)
    demo = start_demo(tmp_path / "data", free_ports()["offset"])
    try:
        for name in demo.secrets:
            # `hearth up` stores each secret in the scopes that read it; none may be orphaned.
            assert infer_scopes(demo.config, name, "the demo")
        assert bool(demo.config.targets) == (sshd == "installed") == bool(demo.secrets)
        assert demo.config.devices  # the fleet runs either way
    finally:
        demo.stop()


def gen1_address_as_a_user() -> tuple[str | None, str]:
    """``fleet.gen1_address`` as a user who is not root (this process, when it is not root)."""
    if os.geteuid() != 0:
        return fleet.gen1_address(0)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            os.setgid(65534)
            os.setuid(65534)  # nobody
            os.write(write, json.dumps(fleet.gen1_address(0)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        host, why = json.loads(answer.read())
    os.waitpid(pid, 0)
    return host, why


def test_the_demo_declares_its_devices_and_runs_gen1_only_where_it_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unprivileged = gen1_address_as_a_user()
    assert unprivileged[0] is None and "Gen2+ devices only" in unprivileged[1], unprivileged
    monkeypatch.setattr(fleet, "gen1_address", lambda offset: unprivileged)
    demo = start_demo(tmp_path / "data", free_ports()["offset"])
    try:
        assert unprivileged[1] in demo.notes
        running = {d.name for d in demo.devices}
        assert running == {d.name for d in fleet.DEVICES if d.gen != 1}
        assert {d.name for d in demo.config.devices} == running
        source = demo.config.device_config
        assert source is not None and source.repo == fleet.FLEET_REPOSITORY
        assert demo.fleet_checkout is not None
        for device in demo.config.devices:  # each declared device has its file in Git
            path = demo.fleet_checkout / "devices" / f"{device.name}.toml"
            assert tomllib.loads(path.read_text())["mac"] == device.mac
        env = demo.service_env["device-manager"]
        assert env["HEARTH_COIOT_PEER"].endswith(env["HEARTH_COIOT_PORT"])
    finally:
        demo.stop()
