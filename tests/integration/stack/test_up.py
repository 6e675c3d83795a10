"""``hearth up`` as a person runs it: everything comes up healthy, inspectable read-only,
crashed services come back, Ctrl-C leaves nothing behind, and a second run reuses the data."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import nats
import psutil
import pytest
from nats.js.api import RetentionPolicy, StorageType

from hearth.embedded.process import free_port
from tests.support.stack import HEARTH, Up, api_get, free_ports

pytestmark = pytest.mark.integration


@pytest.fixture
def ports() -> dict[str, int]:
    return free_ports()


def inspector(data_dir: Path) -> dict[str, Any]:
    context: dict[str, Any] = json.loads((data_dir / "nats" / "inspector.context.json").read_text())
    return context


async def test_hearth_up_runs_everything_and_stops_clean(
    tmp_path: Path, ports: dict[str, int], runs: list[Up]
) -> None:
    data_dir = tmp_path / "data"
    # Two webhook gateway workers on the gateway's one port, supervised like the rest.
    up = Up(data_dir, ports, env={"HEARTH_WEBHOOK_WORKERS": "2"})
    runs.append(up)
    report = up.wait_healthy()
    assert set(report["services"]) == {
        "query-api",
        "webhook-gw",
        "deployer",
        "device-manager",
        "provisioner",
        "notifier",
    }
    assert report["services"]["query-api"]["checks"] == {"nats": True, "database": True}

    # With no hearth.yaml, the demo's repository is deployed to the demo's own SSH host.
    api = report["services"]["query-api"]["url"]
    deadline = time.monotonic() + 90
    while not (found := re.search(r"admin token +(hth_[\w-]+)", up.output())):
        assert time.monotonic() < deadline, up.output()
        await asyncio.sleep(0.5)
    demo_token = found.group(1)
    while (targets := api_get(api, "/api/v1/targets", demo_token)["items"]) == [] or targets[0][
        "status"
    ] != "green":
        assert time.monotonic() < deadline, (targets, up.output())
        await asyncio.sleep(0.5)
    assert targets[0]["name"] == "demo-homeassistant"
    assert (data_dir / "demo" / "host" / "homeassistant" / "configuration.yaml").exists()

    # The read-only inspector sees what the architecture says is there...
    context = inspector(data_dir)
    assert set(context) >= {"url", "user", "password", "inbox_prefix"}
    assert context["inbox_prefix"] == "_INBOX_inspector"
    assert (data_dir / "nats" / "inspector.context.json").stat().st_mode & 0o077 == 0
    nc = await nats.connect(
        context["url"],
        user=context["user"],
        password=context["password"],
        inbox_prefix=context["inbox_prefix"],
    )
    js = nc.jetstream()
    events = (await js.stream_info("HEARTH_EVENTS")).config
    assert events.subjects == ["hearth.evt.>"]
    assert events.storage == StorageType.FILE
    assert events.duplicate_window >= 600
    assert events.deny_delete and events.deny_purge
    tasks = (await js.stream_info("HEARTH_TASKS")).config
    assert tasks.retention == RetentionPolicy.WORK_QUEUE
    # ...and cannot change anything, nor read a bucket (the secrets are in one).
    with pytest.raises(Exception):  # noqa: B017 (a permissions violation, as nats-py reports it)
        await js.stream_info("KV_hearth_secrets")
    with pytest.raises(Exception, match=r"[Pp]ermissions|[Tt]imeout|no responders"):
        await js.publish("hearth.evt.git.PushReceived.x", b"{}", timeout=2)
    with pytest.raises(Exception):  # noqa: B017 (a permissions violation, as nats-py reports it)
        await js.delete_stream("HEARTH_EVENTS")
    await nc.close()

    # The CLI talks to the running stack: secrets, declarations, tokens.
    secret = subprocess.run(
        [*HEARTH, "secret", "set", "home-webhook", "--for", "webhook-gw"],
        input="s3cret",
        env=up.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert secret.returncode == 0, secret.stderr
    config = tmp_path / "hearth.yaml"
    config.write_text(
        "repositories:\n  - name: alice/home\n    url: file:///srv/home.git\n"
        "    webhook_secret: home-webhook\n"
    )
    applied = subprocess.run(
        [*HEARTH, "apply", "--config", str(config)],
        env=up.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "RepositoryRegistered alice/home" in applied.stdout
    again_applied = subprocess.run(
        [*HEARTH, "apply", "--config", str(config)],
        env=up.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "no changes" in again_applied.stdout
    created = subprocess.run(
        [*HEARTH, "token", "create", "alice", "--role", "operator"],
        env=up.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0 and created.stdout.startswith("hth_"), created.stderr
    rebuilt = subprocess.run(
        [*HEARTH, "projections", "rebuild"], env=up.env, capture_output=True, text=True, check=False
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert re.search(r"rebuilt from \d+ events", rebuilt.stderr), rebuilt.stderr
    listed = subprocess.run(
        [*HEARTH, "deployments", "--json"],
        env={**up.env, "HEARTH_API_TOKEN": demo_token},
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["target"] == "demo-homeassistant"  # URL from stack.json

    tested = subprocess.run(
        [*HEARTH, "notify", "test"], env=up.env, capture_output=True, text=True, check=False
    )
    assert tested.returncode == 1
    assert "no routes are declared" in tested.stderr

    # A crashed service, or gateway worker, is restarted by the supervisor.
    state = json.loads((data_dir / "stack.json").read_text())
    assert "webhook-gw-w2" not in state["services"], "workers share the gateway's port"
    crashed = {name: state["pids"][name] for name in ("notifier", "webhook-gw-w2")}
    for pid in crashed.values():
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = json.loads((data_dir / "stack.json").read_text())
        if all(state["pids"][name] != pid for name, pid in crashed.items()):
            break
        time.sleep(0.3)
    assert all(state["pids"][name] != pid for name, pid in crashed.items()), up.output()
    up.wait_healthy()

    # Ctrl-C stops everything, leaving no process behind.
    everything = up.family()
    server_pids = [state["nats_pid"]]
    assert up.ctrl_c() == 0, up.output()
    time.sleep(0.5)
    assert [p.pid for p in everything if p.is_running() and p.status() != "zombie"] == []
    assert not any(psutil.pid_exists(pid) for pid in server_pids)
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(data_dir) in " ".join(p.info["cmdline"] or [])
    ]

    # A second `hearth up` on the same data dir reuses the data.
    again = Up(data_dir, ports)
    runs.append(again)
    again.wait_healthy()
    assert inspector(data_dir)["password"] == context["password"]
    assert again.ctrl_c() == 0


def run_up(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "HEARTH_DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run(
        [*HEARTH, "up", *args], env=full, capture_output=True, text=True, timeout=60, check=False
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_taken_port_is_one_clear_line(tmp_path: Path, ports: dict[str, int]) -> None:
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        result = run_up(
            tmp_path,
            "--nats-port",
            str(taken),
            "--postgres-port",
            str(ports["postgres"]),
            "--port-offset",
            str(ports["offset"]),
        )
    assert result.returncode == 2
    assert f"port 127.0.0.1:{taken} for NATS is already taken" in one_line(result)


def test_an_unreachable_nats_url_is_one_clear_line(tmp_path: Path, ports: dict[str, int]) -> None:
    result = run_up(
        tmp_path,
        "--port-offset",
        str(ports["offset"]),
        HEARTH_NATS_URL=f"nats://127.0.0.1:{free_port()}",
    )
    assert result.returncode == 2
    assert "is not reachable; start it, or unset HEARTH_NATS_URL" in one_line(result)


def test_a_wrong_database_password_is_one_clear_line(
    tmp_path: Path, ports: dict[str, int], postgres_admin_url: str, nats_url: str
) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(postgres_admin_url)
    wrong = parts._replace(netloc=f"{parts.username}:wrong@{parts.hostname}:{parts.port}")
    result = run_up(
        tmp_path,
        "--port-offset",
        str(ports["offset"]),
        HEARTH_NATS_URL=nats_url,
        HEARTH_DATABASE_URL=wrong.geturl(),
    )
    assert result.returncode == 2
    assert "PostgreSQL refused the credentials" in one_line(result)
    assert "wrong" not in result.stderr


def test_an_unknown_key_in_hearth_yaml_is_one_clear_line(
    tmp_path: Path, ports: dict[str, int]
) -> None:
    config = tmp_path / "hearth.yaml"
    config.write_text("repositories: []\ntagets: []\n")
    result = run_up(tmp_path, "--config", str(config), "--port-offset", str(ports["offset"]))
    assert result.returncode == 2
    assert one_line(result).endswith(
        "hearth.yaml:2: unknown key 'tagets' (did you mean 'targets'?)"
    )
    assert not (tmp_path / "data" / "nats").exists()  # nothing was started
