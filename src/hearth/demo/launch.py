"""The labelled demo ``hearth up`` runs when there is no hearth.yaml.

A local Git repository with a small Home Assistant configuration, a private OpenSSH sshd
on loopback holding the "host" directory, and a simulated Home Assistant judging the files
in it. Hearth polls the repository, so a commit pushed to it becomes a deployment a
newcomer can watch. Beside it, simulated Shelly devices with their desired config in a
second repository (``hearth.demo.fleet``). Everything lives under ``<data dir>/demo`` and
is reused next time (the simulated devices start factory-fresh each time).
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hearth.config import HearthConfig
from hearth.demo import fleet
from hearth.demo.sshd import DemoSshd, find_sshd, start_demo_sshd
from hearth.embedded.process import free_port, last_line
from hearth_events.catalogue import RepositorySpec, TargetSpec
from hearth_events.catalogue.device import DeviceConfigSource, DeviceSpec

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
    fleet_checkout: Path | None = None
    devices: list[fleet.DemoDevice] = field(default_factory=list)  # the simulated ones running
    #: settings for services, by service name, that only the demo needs
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)

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
    subprocess.run(
        ["git", *identity, *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        start_new_session=True,  # a terminal's Ctrl-C is for hearth, which stops between steps
    )


def _has_main(bare: Path) -> bool:
    return (bare / "HEAD").exists() and (
        subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "refs/heads/main"],
            cwd=bare,
            check=False,
            capture_output=True,
            start_new_session=True,
        ).returncode
        == 0
    )


def _repository(root: Path, name: str, files: dict[str, str]) -> tuple[Path, Path]:
    """The demo's bare repository and its checkout, made once and reused. They are built
    under temporary names and moved into place, the bare one last: a first start stopped
    halfway (Ctrl-C, a kill, a full disk) leaves no repository without its first commit,
    which Hearth would poll forever without ever deploying."""
    bare, checkout = root / f"{name}.git", root / name
    if _has_main(bare):
        return bare, checkout
    new_bare, new_checkout = root / f".{name}.git.new", root / f".{name}.new"
    for path in (bare, checkout, new_bare, new_checkout):
        shutil.rmtree(path, ignore_errors=True)
    new_bare.mkdir(parents=True)
    _git(new_bare, "init", "-q", "--bare", "-b", "main")
    _git(root, "clone", "-q", str(new_bare), str(new_checkout))
    for name_in_repo, content in files.items():
        (new_checkout / name_in_repo).parent.mkdir(parents=True, exist_ok=True)
        (new_checkout / name_in_repo).write_text(content)
    _git(new_checkout, "add", "-A")
    _git(new_checkout, "commit", "-q", "-m", "Demo configuration")
    _git(new_checkout, "push", "-q", "origin", "HEAD:main")
    _git(new_checkout, "remote", "set-url", "origin", str(bare))
    new_checkout.rename(checkout)
    new_bare.rename(bare)
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
        draft = path.with_name(path.name + ".new")
        draft.write_text(secrets.token_urlsafe(24))
        draft.chmod(0o600)
        draft.replace(path)  # whole or not at all: a kill never leaves an empty token
    return path.read_text().strip()


#: How long a simulator may take to listen. Each is a Python process that imports aiohttp
#: (about 0.5 s of CPU here); on a Raspberry Pi, or beside Hearth's own services starting
#: on two busy cores, that is many times longer, so a slow start is waited for, not refused.
LISTEN_TIMEOUT_S = 60.0


def _wait_listening(
    port: int,
    process: subprocess.Popen[bytes],
    log: Path,
    *,
    timeout: float = LISTEN_TIMEOUT_S,
    host: str = "127.0.0.1",
    what: str = "the demo Home Assistant",
) -> None:
    """Return once ``host:port`` accepts; refuse in one line that says whether the process
    died (with its log's last line) or is still starting after ``timeout``."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{what} did not listen on {host}:{port} within {timeout:.0f}s; "
                    f"it is still starting (its log: {log})"
                ) from None
            time.sleep(0.1)
    raise RuntimeError(
        f"{what} exited with code {process.returncode} before listening on {host}:{port}: "
        f"{last_line(log)} (its log: {log})"
    )


def _spawn(root: Path, log_name: str, *args: str) -> subprocess.Popen[bytes]:
    with (root / log_name).open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # hearth stops it; a terminal's Ctrl-C is for hearth
        )


class DemoFailed(Exception):
    """The demo could not start; the message says what, in one line, and where its log is."""


def start_demo(data_dir: Path, port_offset: int = 0) -> Demo:
    """Start the demo's processes; on any failure, stop what was started and raise
    :class:`DemoFailed` (a stop asked for, such as Ctrl-C, is re-raised as it came)."""
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
    except BaseException as exc:
        demo.stop()
        if isinstance(exc, Exception):
            raise DemoFailed(f"the demo could not start: {_one_line(exc)}") from exc
        raise
    return demo


def _one_line(exc: Exception) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        said = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        command = " ".join(str(part) for part in exc.cmd[:2])
        return f"`{command} …` failed ({said[-1] if said else f'exit code {exc.returncode}'})"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _start(demo: Demo, port_offset: int) -> None:
    root = demo.root
    bare, demo.checkout = _repository(root, "home-config", FILES)
    demo.host_dir.mkdir(parents=True, exist_ok=True)
    ha_token = _persistent_secret(root / "ha-token")
    ha_port = _port(8123 + port_offset, "simulated Home Assistant", demo.notes)
    ha = _spawn(
        root,
        "homeassistant.log",
        "hearth.demo.homeassistant",
        str(demo.host_dir),
        str(ha_port),
        ha_token,
    )
    demo.processes.append(ha)
    demo.ha_url = f"http://127.0.0.1:{ha_port}"
    repository = RepositorySpec(name=REPOSITORY, url=bare.as_uri(), poll_interval_s=POLL_S)
    demo.config = HearthConfig(repositories=[repository])
    # The simulators start side by side (each is a Python process that takes a second or
    # two to import on a small machine); they are waited for together, after the SSH host.
    fleet_ready = _start_fleet(demo, port_offset)
    if find_sshd() is not None:
        ssh_port = _port(2222 + port_offset, "SSH host", demo.notes)
        demo.sshd = start_demo_sshd(root / "ssh", demo.host_dir, ssh_port)
    _wait_listening(ha_port, ha, root / "homeassistant.log")
    fleet_ready()
    if demo.sshd is None:
        demo.notes.append(
            "no OpenSSH server on this machine, so the demo has no SSH target; install "
            "openssh-server (Debian: apt-get install openssh-server) to see deployments"
        )
        return
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
    demo.config = HearthConfig.model_validate({**dict(demo.config), "targets": [target]})


def _start_fleet(demo: Demo, port_offset: int) -> Callable[[], None]:
    """The simulated Shelly devices, declared under ``devices:`` with their desired config.
    Returns what waits until every device listens."""
    bare, demo.fleet_checkout = _repository(demo.root, "shelly-fleet", fleet.FILES)
    gen1_host, why_not = fleet.gen1_address(port_offset)
    if why_not:
        demo.notes.append(why_not)
    addresses: dict[str, tuple[str, int]] = {}
    for i, device in enumerate(fleet.DEVICES):
        if device.gen == 1:
            if gen1_host is not None:
                addresses[device.name] = (gen1_host, 80)
        else:
            port = _port(fleet.FIRST_PORT + i + port_offset, f"Shelly {device.name}", demo.notes)
            addresses[device.name] = ("127.0.0.1", port)
    demo.devices = [d for d in fleet.DEVICES if d.name in addresses]
    specs = [fleet.sim_spec(d, *addresses[d.name]) for d in demo.devices]
    state = str(demo.root / "shelly-firmware.json")
    process = _spawn(demo.root, "shelly.log", "hearth.demo.fleet_sim", json.dumps(specs), state)
    demo.processes.append(process)

    def ready() -> None:
        for host, port in addresses.values():
            _wait_listening(
                port, process, demo.root / "shelly.log", host=host, what="a simulated Shelly device"
            )

    coiot = _free_udp_port()
    hosts = sorted({host for host, _ in addresses.values()})
    demo.service_env["device-manager"] = {
        # Gen1 devices push CoIoT to this port; a free one, as 5683 may be anyone's.
        "HEARTH_COIOT_PORT": str(coiot),
        "HEARTH_COIOT_PEER": f"127.0.0.1:{coiot}",
        "HEARTH_PRESENCE_WINDOW_S": "5",
        # Only the simulated devices: a device whose port changed since last time is found
        # again by this scan; mDNS would show the real devices of the LAN around the demo.
        "HEARTH_DISCOVERY_MDNS": "false",
        "HEARTH_DISCOVERY_CIDRS": json.dumps(hosts),
        "HEARTH_DISCOVERY_PORTS": json.dumps(sorted({p for _, p in addresses.values()})),
        "HEARTH_DISCOVERY_INTERVAL_S": "60",
    }
    source = RepositorySpec(name=fleet.FLEET_REPOSITORY, url=bare.as_uri(), poll_interval_s=POLL_S)
    demo.config = HearthConfig(
        repositories=[*demo.config.repositories, source],
        devices=[
            DeviceSpec(
                name=d.name,
                mac=d.mac,
                host=_host(*addresses[d.name]),
                groups=d.groups,
            )
            for d in demo.devices
        ],
        device_config=DeviceConfigSource(repo=fleet.FLEET_REPOSITORY),
    )
    return ready


def _host(host: str, port: int) -> str:
    return host if port == 80 else f"{host}:{port}"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])
