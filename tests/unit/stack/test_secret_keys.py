"""``hearth up`` hands each service its own scope key and never the installation key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.stack.layout import DataDir
from hearth.stack.services import SERVICES, inherited_env
from hearth.stack.up import Stack, UpOptions, service_env
from hearth_servicekit.secrets import SecretBox


def test_each_service_gets_only_its_scope_key(tmp_path: Path) -> None:
    layout = DataDir(tmp_path)
    stack = Stack(UpOptions(data_dir=tmp_path), layout, "nats://127.0.0.1:1", "")
    installation = layout.secret_key()
    for service in SERVICES:
        env = service_env(stack, {}, service)
        assert installation not in env.values()
        assert "HEARTH_SECRET_KEY" not in env
        if service.uses_secrets:
            assert SecretBox(env["HEARTH_SCOPE_KEY"]).scope == service.name
        else:
            assert "HEARTH_SCOPE_KEY" not in env


def test_the_installation_key_is_not_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_SECRET_KEY", "installation")
    assert "HEARTH_SECRET_KEY" not in inherited_env()
