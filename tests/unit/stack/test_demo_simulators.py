"""The demo's simulators start quickly and, when they cannot, say why.

The README's run command on a fresh clone once failed in CI with "the demo Home Assistant
did not start": each simulator imported the whole demo package (pydantic models, asyncssh)
through ``hearth/demo/__init__.py``, about 1.9 s of CPU, and was given 10 s to listen on
two cores busy starting PostgreSQL, NATS and Hearth's services.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hearth.demo.launch import _wait_listening
from hearth.embedded.process import free_port

SIMULATORS = ["hearth.demo.homeassistant", "hearth.demo.fleet_sim"]
#: What a simulator has no use for, and what made its start slow.
HEAVY = ["asyncssh", "pydantic", "hearth.config", "hearth_events", "nats", "asyncpg"]


@pytest.mark.parametrize("module", SIMULATORS)
def test_a_simulator_imports_nothing_of_the_service_stack(module: str) -> None:
    program = (
        f"import sys, {module}\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted({m for m in sys.modules for h in heavy if m == h or m.startswith(h + '.')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.replace("'", '"')) == []


def _spawn(program: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", program], stdout=out, stderr=subprocess.STDOUT
        )


def test_a_simulator_that_dies_is_reported_with_its_exit_code_and_last_log_line(
    tmp_path: Path,
) -> None:
    log = tmp_path / "homeassistant.log"
    process = _spawn("import sys; print('starting'); sys.exit('port 8123 is in use')", log)
    with pytest.raises(RuntimeError) as refused:
        _wait_listening(free_port(), process, log)
    message = str(refused.value)
    assert "exited with code 1 before listening" in message
    assert "port 8123 is in use" in message and str(log) in message
    assert "\n" not in message


def test_a_simulator_still_starting_is_refused_only_after_the_timeout(tmp_path: Path) -> None:
    log = tmp_path / "shelly.log"
    process = _spawn("import time; time.sleep(60)", log)
    try:
        with pytest.raises(RuntimeError, match=r"within 1s; it is still starting"):
            _wait_listening(free_port(), process, log, timeout=1, what="a simulated Shelly")
        assert process.poll() is None  # refused while alive: the caller stops it
    finally:
        process.kill()
        process.wait()
