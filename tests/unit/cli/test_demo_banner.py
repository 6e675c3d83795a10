"""The demo's banner: every command it prints runs as printed, from any folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from hearth.cli.output import console
from hearth.demo.launch import Demo
from hearth.stack.report import ConsoleReport


def _watch_line(tmp_path: Path, api: str, capsys: pytest.CaptureFixture[str]) -> str:
    demo = Demo(
        root=tmp_path,
        checkout=tmp_path / "home-config",
        host_dir=tmp_path / "host",
        config=cast(Any, None),
        secrets={},
        ha_url="http://127.0.0.1:8123",
    )
    state = {"services": {"query-api": {"url": api}}}
    ConsoleReport(console.get()).demo(demo, state, "hth_token")
    (watch,) = [line for line in capsys.readouterr().err.splitlines() if "then watch" in line]
    return watch


def test_the_watch_command_names_the_api_when_it_is_not_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hearth up --port-offset 3300`: the demo's repository, where "try it" leaves the
    person, has no .hearth to find the API in, and the CLI would ask port 8080."""
    monkeypatch.delenv("HEARTH_CLI", raising=False)
    assert _watch_line(tmp_path, "http://127.0.0.1:11380", capsys).endswith(
        "or  HEARTH_API_TOKEN=<admin token> HEARTH_API_URL=http://127.0.0.1:11380 "
        "hearth deployments"
    )


def test_the_watch_command_is_short_at_the_default_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEARTH_CLI", raising=False)
    assert _watch_line(tmp_path, "http://127.0.0.1:8080", capsys).endswith(
        "or  HEARTH_API_TOKEN=<admin token> hearth deployments"
    )
