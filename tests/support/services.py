"""Run a Hearth service as its own process, as the embedded stack does, and talk to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hearth_events.jetstream import SECRET_SCOPES
from hearth_servicekit.secrets import SecretBox, SecretStore, scope_key

SERVICES = {
    "webhook-gw": "hearth_webhook_gw",
    "deployer": "hearth_deployer",
    "device-manager": "hearth_device_manager",
    "provisioner": "hearth_provisioner",
    "notifier": "hearth_notifier",
    "query-api": "hearth_query_api",
}

TEST_SECRET_KEY = "q7x0eT6ZPWgGx7jM9V1Rk0qPHAhF5r8g0w3Yb2Tn4sE="  # the installation key


def scoped_secrets(js: Any, scope: str) -> SecretStore:
    """The secrets of ``scope``, as the admin stores them with the test installation key."""
    return SecretStore(js, SecretBox.for_scope(TEST_SECRET_KEY, scope))


class ServiceProcess:
    """A service process. Without a port of the test's choosing it listens on one the
    system picks (``HEARTH_HTTP_PORT=0``) and ``port`` reads it from the service's own
    "http listening" log line: a port picked free beforehand can be taken by another
    test worker before the service binds it."""

    def __init__(self, module: str, env: dict[str, str], log: Path) -> None:
        port = env["HEARTH_HTTP_PORT"]
        self._port = int(port) if port.isdigit() else 0
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, **env},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    @property
    def port(self) -> int:
        deadline = time.monotonic() + 30
        while not self._port:
            self._port = self._bound_port()
            if self._port:
                break
            assert self.process.poll() is None, f"exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"never listened:\n{self.output()}"
            time.sleep(0.05)
        return self._port

    def _bound_port(self) -> int:
        if not self._log_file.closed:
            self._log_file.flush()
        for line in self.log.read_text(errors="replace").splitlines():
            if '"http listening"' in line:
                try:
                    return int(json.loads(line)["port"])
                except (ValueError, KeyError):
                    return 0
        return 0

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=3) as r:
                body = r.read()
                status = r.status
        except urllib.error.HTTPError as err:
            body, status = err.read(), err.code
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode()

    def wait_for(self, path: str, status: int, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"exited early:\n{self.output()}"
            try:
                code, last = self.get(path)
                if code == status:
                    return last
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{path} never answered {status}; last {last}\n{self.output()}")

    def terminate(self, timeout: float = 15.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._log_file.close()
        return code

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(name: str, **env: str) -> ServiceProcess:
        full = {
            "HEARTH_HTTP_PORT": "0",
            "HEARTH_LOG_FORMAT": "json",
            "HEARTH_DATA_DIR": str(tmp_path / "data"),
            "HEARTH_INSTANCE": f"test-{name}",
            **(
                {"HEARTH_SCOPE_KEY": scope_key(TEST_SECRET_KEY, name)}
                if name in SECRET_SCOPES
                else {}
            ),
            **env,
        }
        service = ServiceProcess(SERVICES[name], full, tmp_path / f"{name}-{len(started)}.log")
        started.append(service)
        return service

    yield start
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()
