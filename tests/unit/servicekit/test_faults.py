"""HEARTH_FAULT: parsed once, a no-op when unset, and kill/pause/mark fire at the named pass."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hearth_servicekit import faults
from hearth_servicekit.faults import Fault, fault_point, parse_faults

SCRIPT = """
import sys
from hearth_servicekit.faults import fault_point
for n in range(1, 6):
    print(f"pass {n}", flush=True)
    fault_point("demo.point")
print("done", flush=True)
"""


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(faults.FAULT_ENV, raising=False)
    monkeypatch.delenv(faults.READY_ENV, raising=False)
    faults.reset()
    yield
    faults.reset()


def run(tmp_path: Path, spec: str) -> subprocess.Popen[str]:
    env = {**os.environ, faults.FAULT_ENV: spec, faults.READY_ENV: str(tmp_path / "ready")}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, text=True
    )


def test_the_spec_names_points_actions_and_passes() -> None:
    assert parse_faults("a.b:kill, c@3:pause,d:mark") == {
        "a.b": Fault("a.b", "kill", 1),
        "c": Fault("c", "pause", 3),
        "d": Fault("d", "mark", 1),
    }
    assert parse_faults("") == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("a.b", "bad entry 'a.b'"),
        ("a.b:explode", "bad entry 'a.b:explode'"),
        (":kill", "bad entry ':kill'"),
        ("a@0:kill", "bad pass count"),
        ("a@x:kill", "bad pass count"),
        ("a:kill,a@2:pause", "named twice"),
    ],
)
def test_a_bad_spec_is_refused_with_one_line(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse_faults(spec)
    assert "\n" not in str(raised.value)


def test_unset_means_nothing_happens() -> None:
    for _ in range(3):
        fault_point("relay.before_publish")
    assert faults._faults == {}


def test_the_variable_is_parsed_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(faults.FAULT_ENV, "x:mark")
    monkeypatch.setenv(faults.READY_ENV, str(tmp_path / "ready"))
    fault_point("y")
    monkeypatch.setenv(faults.FAULT_ENV, "y:mark")
    fault_point("y")
    assert not (tmp_path / "ready").exists()


def test_mark_writes_the_marker_at_the_nth_pass_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(faults.FAULT_ENV, "x@2:mark")
    monkeypatch.setenv(faults.READY_ENV, str(tmp_path / "ready"))
    fault_point("x")
    assert not (tmp_path / "ready").exists()
    fault_point("x")
    fault_point("x")
    assert (tmp_path / "ready").read_text() == f"x mark {os.getpid()}\n"


def test_kill_dies_by_sigkill_exactly_at_the_nth_pass(tmp_path: Path) -> None:
    process = run(tmp_path, "demo.point@3:kill")
    out, _ = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert out.split("\n")[:-1] == ["pass 1", "pass 2", "pass 3"]
    assert (tmp_path / "ready").read_text() == f"demo.point kill {process.pid}\n"


def test_pause_signals_readiness_then_blocks_until_killed(tmp_path: Path) -> None:
    process = run(tmp_path, "demo.point@2:pause")
    ready = tmp_path / "ready"
    deadline = time.monotonic() + 60
    try:
        # The marker's whole line is the exact event waited for: the file exists a moment
        # before its line is written (it is opened, then written), so waiting for the
        # file alone read it empty now and then.
        while not (ready.exists() and ready.read_text().endswith("\n")):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        assert ready.read_text() == f"demo.point pause {process.pid}\n"
        assert process.poll() is None
    finally:
        process.kill()  # a failed assertion must not leave the paused process behind
    out, _ = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert out.split("\n")[:-1] == ["pass 1", "pass 2"]


def test_a_point_not_armed_runs_through(tmp_path: Path) -> None:
    process = run(tmp_path, "other.point:kill")
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert out.endswith("done\n")
    assert not (tmp_path / "ready").exists()


def test_every_listed_point_is_marked_in_the_source_exactly_once() -> None:
    root = Path(__file__).resolve().parents[3]
    sources = [*root.glob("libs/*/src/**/*.py"), *root.glob("services/*/src/**/*.py")]
    text = "\n".join(p.read_text() for p in sources if p.name != "faults.py")
    listed = [point for points in faults.POINTS.values() for point in points]
    assert len(listed) == len(set(listed))
    for point in listed:
        assert text.count(f'fault_point("{point}")') == 1, point
    marked = set(re.findall(r'fault_point\("([^"]+)"\)', text))
    assert marked == set(listed)  # and nothing marked that is not listed
    for component, points in faults.POINTS.items():
        assert all(p.startswith(f"{component}.") for p in points), component
