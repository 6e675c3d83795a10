"""What the CLI tells a person to run names the command they ran it with: a checkout's
``scripts/hearth`` (no ``hearth`` is on the PATH there), an installed ``hearth`` as such."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "hearth"


def _run(command: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env["XDG_CONFIG_HOME"] = str(cwd / "config")  # no cli.toml with a token in it
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_hints_through_scripts_hearth_name_the_script(tmp_path: Path) -> None:
    targets = _run([SCRIPT, "targets"], tmp_path)
    assert targets.returncode != 0
    assert f"create one with `{SCRIPT} token create NAME --role operator`" in targets.stderr
    status = _run([SCRIPT, "status"], tmp_path)
    assert status.returncode == 1
    assert f"start it with `{SCRIPT} up`" in status.stderr


def test_hints_of_an_installed_hearth_say_hearth(tmp_path: Path) -> None:
    status = _run([sys.executable, "-m", "hearth.cli", "status"], tmp_path)
    assert status.returncode == 1
    assert "start it with `hearth up`" in status.stderr
