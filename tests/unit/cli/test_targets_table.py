"""``hearth targets`` renders what the API gives, including ``waiting_for`` when present."""

from __future__ import annotations

from typing import Any

import pytest

from hearth.cli.targets import print_targets


def target(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "homeassistant",
        "host": "10.0.0.2",
        "status": "grey",
        "removed": False,
        "current_commit": None,
        "last_deployment_id": None,
        "last_status": None,
        "last_finished_at": None,
        **extra,
    }


def test_waiting_for_is_a_column_only_when_a_target_waits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_targets([target("ha")])
    assert "waiting for" not in capsys.readouterr().out

    print_targets([target("ha", waiting_for=["secret ha-ssh-key"]), target("garage")])
    lines = capsys.readouterr().out.splitlines()
    assert "waiting for" in lines[2]
    (ha,) = [line for line in lines if "│ ha " in line]
    assert "secret ha-ssh-key" in ha and "never" in ha
