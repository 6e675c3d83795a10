"""The labelled demo ``hearth up`` runs when there is no hearth.yaml.

A local Git repository with a small Home Assistant configuration, a private OpenSSH sshd
on loopback holding the "host" directory, and a simulated Home Assistant judging the files
in it. Hearth polls the repository, so a commit pushed to it becomes a deployment a
newcomer can watch. Everything lives under ``<data dir>/demo`` and is reused next time.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hearth.config import HearthConfig
from hearth.demo.sshd import DemoSshd, find_sshd, start_demo_sshd
from hearth.embedded.process import free_port
from hearth_events.catalogue import RepositorySpec, TargetSpec

REPOSITORY = "demo/home-config"
TARGET = "demo-homeassistant"
POLL_S = 10
CONFIGURATION = """\
# Hearth demo: edit, commit and `git push`; Hearth deploys it within ~10 s.
homeassistant:
  name: Demo Home
  time_zone: Europe/Berlin
automation: !include automations.yaml
script: !include scripts.yaml
"""
AUTOMATIONS = """\
- alias: Porch light at sunset
  trigger:
    - platform: sun
      event: sunset
  action:
    - service: light.turn_on
      target:
        entity_id: light.porch
"""
FILES = {
    "configuration.yaml": CONFIGURATION,
    "automations.yaml": AUTOMATIONS,
    "scripts.yaml": "{}\n",
}


@dataclass
class Demo:
    root: Path
    checkout: Path
    host_dir: Path
    config: HearthConfig
    secrets: dict[str, bytes]
    ha_url: str
    notes: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    sshd: DemoSshd | None = None

    def pids(self) -> dict[str, int]:
        """The demo's own processes, recorded so a crashed ``hearth up`` can stop them."""
        pids = {f"demo-{i}": p.pid for i, p in enumerate(self.processes) if p.poll() is None}
        if self.sshd is not None and self.sshd.process.poll() is None:
            pids["demo-sshd"] = self.sshd.process.pid
        return pids

    @property
    def admin_token_file(self) -> Path:
        return self.root / "admin-token"

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
        if self.sshd is not None:
            self.sshd.stop()


def _git(cwd: Path, *args: str) -> None:
    identity = ["-c", "user.name=Hearth demo", "-c", "user.email=demo@hearth.invalid"]
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True)


def _repository(root: Path) -> tuple[Path, Path]:
    bare, checkout = root / "home-config.git", root / "home-config"
    if not (bare / "HEAD").exists():
        shutil.rmtree(bare, ignore_errors=True)
        shutil.rmtree(checkout, ignore_errors=True)
        bare.mkdir(parents=True)
        _git(bare, "init", "-q", "--bare", "-b", "main")
        _git(root, "clone", "-q", str(bare), str(checkout))
        for name, content in FILES.items():
            (checkout / name).write_text(content)
        _git(checkout, "add", "-A")
        _git(checkout, "commit", "-q", "-m", "Demo configuration")
        _git(checkout, "push", "-q", "origin", "HEAD:main")
    return bare, checkout


def _port(preferred: int, what: str, notes: list[str]) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            port = free_port()
            notes.append(f"port {preferred} is taken, so the demo's {what} listens on {port}")
            return port
    return preferred


def _persistent_secret(path: Path) -> str:
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the demo Home Assistant did not start on port {port}")


def start_demo(data_dir: Path, port_offset: int = 0) -> Demo:
    """Start the demo's processes; on any failure, stop what was started and re-raise."""
    root = data_dir.resolve() / "demo"
    root.mkdir(parents=True, exist_ok=True)
    demo = Demo(
        root=root,
        checkout=root / "home-config",
        host_dir=root / "host" / "homeassistant",
        config=HearthConfig(),
        secrets={},
        ha_url="",
    )
    try:
        _start(demo, port_offset)
    except BaseException:
        demo.stop()
        raise
    return demo


def _start(demo: Demo, port_offset: int) -> None:
    root = demo.root
    bare, demo.checkout = _repository(root)
    demo.host_dir.mkdir(parents=True, exist_ok=True)
    ha_token = _persistent_secret(root / "ha-token")
    ha_port = _port(8123 + port_offset, "simulated Home Assistant", demo.notes)
    with (root / "homeassistant.log").open("ab") as log:
        ha = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hearth.demo.homeassistant",
                str(demo.host_dir),
                str(ha_port),
                ha_token,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # hearth stops it; a terminal's Ctrl-C is for hearth
        )
    demo.processes.append(ha)
    demo.ha_url = f"http://127.0.0.1:{ha_port}"
    _wait_listening(ha_port, ha)
    repository = RepositorySpec(name=REPOSITORY, url=bare.as_uri(), poll_interval_s=POLL_S)
    if find_sshd() is None:
        demo.notes.append(
            "no OpenSSH server on this machine, so the demo has no SSH target; install "
            "openssh-server (Debian: apt-get install openssh-server) to see deployments"
        )
        demo.config = HearthConfig(repositories=[repository])
        return
    ssh_port = _port(2222 + port_offset, "SSH host", demo.notes)
    demo.sshd = start_demo_sshd(root / "ssh", demo.host_dir, ssh_port)
    # Secrets only for what references them: each is stored in the scope of its reader.
    demo.secrets["demo-ssh-key"] = demo.sshd.client_key.read_bytes()
    demo.secrets["demo-ha-token"] = ha_token.encode()
    target = TargetSpec(
        name=TARGET,
        kind="homeassistant",
        host="127.0.0.1",
        port=demo.sshd.port,
        user=demo.sshd.user,
        key_secret="demo-ssh-key",  # noqa: S106 (secret names, not values)
        known_host_key=demo.sshd.host_key_line,
        remote_path=str(demo.host_dir),
        repo=REPOSITORY,
        ha_url=demo.ha_url,
        ha_token_secret="demo-ha-token",  # noqa: S106
        health_timeout_s=60,
    )
    demo.config = HearthConfig(repositories=[repository], targets=[target])
