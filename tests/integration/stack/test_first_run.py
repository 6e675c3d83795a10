"""A new user's first hour, as they meet it: the README's run command on a fresh clone,
Ctrl-C at any moment, secrets set before Hearth runs, and restarts that never swap a real
configuration for the demo."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.stack import Up, api_get, api_until, clean_env, free_ports, hearth, leftovers

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def readme_commands() -> list[str]:
    """The two commands the README starts with (its first code block), comments stripped."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"```(?:sh|bash)?\n(.*?)```", text, re.S)
    assert block is not None, "the README has no code block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def fresh_clone(destination: Path) -> Path:
    """A clone of this working tree as it is now (committed or not), like `git clone`."""
    source = destination.parent / "source"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        path = REPO / name.decode()
        if path.is_file():
            (source / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name.decode())
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=source, check=True)
    subprocess.run([*git, "add", "-A"], cwd=source, check=True)
    subprocess.run([*git, "commit", "-qm", "snapshot"], cwd=source, check=True)
    subprocess.run(["git", "clone", "-q", str(source), str(destination)], check=True)
    return destination


def push_change(checkout: Path, old: str, new: str) -> str:
    automations = checkout / "automations.yaml"
    automations.write_text(automations.read_text().replace(old, new))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "commit", "-qam", f"{new}"], cwd=checkout, check=True)
    subprocess.run(["git", "push", "-q"], cwd=checkout, check=True, capture_output=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True, check=True
    ).stdout.strip()


def wait_deployed(api: str, token: str, commit: str, timeout: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in api_get(api, "/api/v1/deployments?limit=20", token)["items"]:
            if item["commit"] == commit and item["status"] == "succeeded":
                return dict(item)
        time.sleep(0.5)
    raise AssertionError(f"{commit} was not deployed within {timeout}s")


def test_the_readme_run_command_works_on_a_fresh_clone(tmp_path: Path, runs: list[Up]) -> None:
    run_command, test_command = readme_commands()
    assert run_command == "scripts/hearth up"
    assert test_command == "scripts/test"
    clone = fresh_clone(tmp_path / "hearth")

    # Exactly as written, with the default (relative) data dir and the default ports.
    up = Up(None, None, command=["bash", "-c", run_command], cwd=clone)
    runs.append(up)
    token = up.wait_output(r"admin token +(hth_[\w-]+)", timeout=300).group(1)
    api = "http://127.0.0.1:8080"
    data = clone / ".hearth"
    assert (data / "stack.json").exists()

    # Push a change to the demo repository: it is deployed to the demo's host.
    commit = push_change(data / "demo" / "home-config", "Porch light at sunset", "At dusk")
    wait_deployed(api, token, commit)
    host_file = data / "demo" / "host" / "homeassistant" / "automations.yaml"
    assert "At dusk" in host_file.read_text()

    # What the banner says to watch it with runs as printed, from where "try it" left the
    # user (the demo's repository), the printed admin token in its place.
    watch = up.wait_output(r"then watch +\S+ +or +(.+)").group(1).strip()
    assert watch.startswith("HEARTH_API_TOKEN=<admin token> "), watch
    shown = subprocess.run(
        ["bash", "-c", watch.replace("<admin token>", token)],
        cwd=data / "demo" / "home-config",
        env=clean_env(None),
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert commit[:12] in shown.stdout and "succeeded" in shown.stdout, shown.stdout

    # Ctrl-C: everything stops and nothing is left running.
    assert up.ctrl_c() == 0, up.output()
    assert "stopped in" in up.output()
    assert up.survivors() == []
    assert leftovers(str(clone)) == []


@pytest.mark.parametrize("step", ["servers", "demo", "services", "apply", "applied"])
def test_ctrl_c_at_any_step_of_starting_leaves_nothing(
    tmp_path: Path, runs: list[Up], step: str
) -> None:
    data = tmp_path / "data"
    up = Up(data, free_ports(), env={"HEARTH_TEST_PAUSE_AT": step})
    runs.append(up)
    up.wait_output(f"paused at {step}")
    assert up.ctrl_c() == 0, up.output()
    output = up.output()
    assert "stopping Hearth" in output and "stopped in" in output, output
    assert "Traceback" not in output and "Aborted" not in output, output
    assert up.survivors() == []
    assert leftovers(str(data)) == []
    assert not (data / "stack.json").exists()


def test_a_closed_terminal_stops_everything_like_ctrl_c(tmp_path: Path, runs: list[Up]) -> None:
    """Closing the terminal hangs up hearth up (SIGHUP). Its servers and services run in
    sessions of their own, so before SIGHUP was handled they were all left running."""
    data = tmp_path / "data"
    up = Up(data, free_ports())
    runs.append(up)
    up.wait_healthy()
    assert up.hang_up() == 0, up.output()
    output = up.output()
    assert "stopping Hearth" in output and "stopped in" in output, output
    assert up.survivors() == []
    assert leftovers(str(data)) == []


def _cmdline(process: psutil.Process) -> set[str]:
    try:
        return set(process.cmdline())
    except psutil.Error:  # gone between listing and asking
        return set()


def test_ctrl_c_while_initdb_runs_is_a_stop_not_a_failure(tmp_path: Path, runs: list[Up]) -> None:
    """The terminal sends SIGINT to initdb too; its failure then is the person's wish."""
    data = tmp_path / "data"
    up = Up(data, free_ports())
    runs.append(up)
    deadline = time.monotonic() + 60
    # initdb's own postgres (bootstrap or single-user mode): the signal then fails initdb;
    # a signal in its last step (syncing to disk) would let it finish instead.
    while not any({"--boot", "--single"} & _cmdline(p) for p in up.family()):
        assert time.monotonic() < deadline and up.process.poll() is None, up.output()
        time.sleep(0.02)
    assert up.ctrl_c() == 0, up.output()
    output = up.output()
    assert "stopped before NATS and PostgreSQL were up" in output, output
    assert "initdb failed" not in output and "Traceback" not in output, output
    assert up.survivors() == []
    assert leftovers(str(data)) == []


def test_ctrl_c_while_the_demo_makes_its_repository_is_a_stop_not_a_failure(
    tmp_path: Path, runs: list[Up]
) -> None:
    """The demo's first start makes its Git repositories. The terminal's SIGINT went to
    those git commands too, so a Ctrl-C there was a traceback, and it left a repository
    without its first commit, which every later start polled without ever deploying. A
    `git` on PATH holds the demo's commit until the signal was sent."""
    data, bin_dir, held = tmp_path / "data", tmp_path / "bin", tmp_path / "held"
    bin_dir.mkdir()
    real_git = shutil.which("git")
    assert real_git is not None
    (bin_dir / "git").write_text(
        "#!/bin/sh\n"
        'case " $* " in *" commit "*"Demo configuration"*)\n'
        f'  touch "{held}"; sleep 2;;\n'
        "esac\n"
        f'exec {real_git} "$@"\n'
    )
    (bin_dir / "git").chmod(0o755)
    up = Up(data, free_ports(), env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    runs.append(up)
    deadline = time.monotonic() + 120
    while not held.exists():
        assert time.monotonic() < deadline and up.process.poll() is None, up.output()
        time.sleep(0.02)
    assert up.ctrl_c() == 0, up.output()
    output = up.output()
    assert "stopped in" in output and "Traceback" not in output, output
    assert up.survivors() == []
    assert leftovers(str(data)) == []
    main = subprocess.run(
        [real_git, "rev-parse", "--verify", "refs/heads/main"],
        cwd=data / "demo" / "home-config.git",
        check=False,
        capture_output=True,
    )
    assert main.returncode == 0, "the demo repository was left without its first commit"


def test_secrets_can_be_set_before_hearth_runs(tmp_path: Path, runs: list[Up]) -> None:
    data = tmp_path / "data"
    ports = free_ports()
    stored = hearth(
        clean_env(data),
        "secret",
        "set",
        "ha-token",
        "--for",
        "deployer",
        input="long-lived-token\n",
    )
    assert stored.returncode == 0, stored.stderr
    assert "Hearth is not running" in stored.stderr
    assert leftovers(str(data)) == []  # the NATS started for the write is gone again

    # The Hearth started afterwards has it, in the store its services read.
    up = Up(data, ports)
    runs.append(up)
    up.wait_healthy()
    assert asyncio.run(read_secret(data, "ha-token")) == b"long-lived-token"
    assert up.ctrl_c() == 0


async def read_secret(data: Path, name: str) -> bytes | None:
    import nats

    from hearth.stack.layout import DataDir
    from hearth_servicekit.secrets import SecretBox, SecretStore

    layout = DataDir(data)
    state = layout.read_state()
    assert state is not None
    admin = layout.bus_passwords()["admin"]
    nc = await nats.connect(state["nats_url"], user="admin", password=admin)
    try:
        return await SecretStore(
            nc.jetstream(), SecretBox.for_scope(layout.secret_key(), "deployer")
        ).get(name)
    finally:
        await nc.close()


def test_the_demo_reuses_its_token_and_never_replaces_a_real_configuration(
    tmp_path: Path, runs: list[Up]
) -> None:
    data = tmp_path / "data"
    ports = free_ports()
    first = Up(data, ports, cwd=tmp_path)
    runs.append(first)
    token = first.wait_output(r"admin token +(hth_[\w-]+)").group(1)
    assert first.ctrl_c() == 0

    second = Up(data, ports, cwd=tmp_path)
    runs.append(second)
    assert second.wait_output(r"admin token +(hth_[\w-]+)").group(1) == token
    # Another file is applied to the running Hearth, from another folder.
    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    config = elsewhere / "hearth.yaml"
    config.write_text("repositories:\n  - name: alice/home\n    url: file:///srv/home.git\n")
    applied = second.run("apply", "--config", str(config))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert second.ctrl_c() == 0

    # Started again where there is no hearth.yaml: it applies that file, not the demo.
    third = Up(data, ports, cwd=tmp_path)
    runs.append(third)
    third.wait_output(re.escape(f"applying {config}"))
    third.wait_output(re.escape(f"{config} targets: applied"))
    assert "admin token" not in third.output(full=True)
    api = f"http://127.0.0.1:{8080 + ports['offset']}"

    def live(answer: Any) -> list[str]:
        return [t["name"] for t in answer["items"] if not t["removed"]]

    # That file has none: the demo's target is removed (the API shows it once projected).
    assert live(api_until(api, "/api/v1/targets", token, lambda a: live(a) == [])) == []
    assert third.ctrl_c() == 0

    # The file is gone: one clear line, nothing started.
    config.unlink()
    gone = Up(data, ports, cwd=tmp_path)
    runs.append(gone)
    assert gone.process.wait(60) == 2
    assert f"was last started with {config}, which is gone" in gone.output()
    assert leftovers(str(data)) == []


def test_a_demo_that_cannot_start_is_one_clear_line_and_leaves_nothing(
    tmp_path: Path, runs: list[Up]
) -> None:
    """Any demo step that broke (a simulator that died, a Git command, a file) ended
    `hearth up` with a traceback; CI met one when a simulator was slow to start."""
    data = tmp_path / "data"
    log = data / "demo" / "homeassistant.log"
    log.mkdir(parents=True)  # where the simulated Home Assistant's log goes: cannot be opened
    up = Up(data, free_ports())
    runs.append(up)
    assert up.process.wait(180) == 2, up.output()
    output = up.output()
    assert "the demo could not start:" in output and "homeassistant.log" in output, output
    assert "Traceback" not in output, output
    assert "stopped in" in output, output
    assert leftovers(str(data)) == []


def test_a_missing_config_file_is_one_clear_line(tmp_path: Path, runs: list[Up]) -> None:
    data = tmp_path / "data"
    up = Up(data, free_ports(), args=("--config", str(tmp_path / "missing.yaml")))
    runs.append(up)
    assert up.process.wait(60) == 2
    assert f"--config {tmp_path / 'missing.yaml'}: no such file" in up.output()
    assert not (data / "nats").exists()  # nothing was started
