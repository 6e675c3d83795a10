"""The demo on machines with and without an OpenSSH server: every secret it stores has a reader."""

from __future__ import annotations

from pathlib import Path

import pytest

import hearth.demo
from hearth.demo import start_demo
from hearth.secret_scopes import infer_scopes
from tests.support.stack import free_ports


@pytest.mark.parametrize("sshd", ["installed", "missing"])
def test_every_demo_secret_has_a_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd: str
) -> None:
    if sshd == "missing":  # a fresh machine without openssh-server: the demo has no target
        monkeypatch.setattr(hearth.demo, "find_sshd", lambda: None)
    demo = start_demo(tmp_path / "data", free_ports()["offset"])
    try:
        for name in demo.secrets:
            # `hearth up` stores each secret in the scopes that read it; none may be orphaned.
            assert infer_scopes(demo.config, name, "the demo")
        assert bool(demo.config.targets) == (sshd == "installed") == bool(demo.secrets)
    finally:
        demo.stop()
