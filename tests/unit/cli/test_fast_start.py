"""``hearth`` starts fast: the heavy libraries load only inside the commands that use them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hearth.cli import COMMANDS, main

HEAVY = ("nats", "rich", "aiohttp", "pydantic", "hearth.stack", "hearth.demo", "asyncssh")


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import hearth.cli",
        # --help loads every command's module to show its summary: they must stay light too.
        "from click.testing import CliRunner\nfrom hearth.cli import main\n"
        "CliRunner().invoke(main, ['--help'])",
    ],
    ids=["import", "help"],
)
def test_the_cli_does_not_import_heavy_libraries(code: str) -> None:
    loaded = loaded_after(code)
    heavy = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == []


def test_every_command_is_listed_and_loads() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert f"  {name} " in result.output


def test_the_state_file_is_where_the_stack_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from hearth.cli.state import state_file
    from hearth.stack.layout import DataDir, data_dir

    for value in (None, "/tmp/hearth-data", "relative/dir"):
        if value is None:
            monkeypatch.delenv("HEARTH_DATA_DIR", raising=False)
        else:
            monkeypatch.setenv("HEARTH_DATA_DIR", value)
        assert state_file().absolute() == DataDir(data_dir()).state_file.absolute()
