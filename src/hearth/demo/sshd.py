"""A private OpenSSH sshd on loopback: the demo's "host" (and the tests' SSH targets).

It runs as whoever runs Hearth, logs that same user in with one key, and serves SFTP
in-process, so it needs nothing from the machine but the sshd binary.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from hearth.embedded.process import last_line

MAX_SESSIONS = 10


def find_sshd() -> str | None:
    found = shutil.which("sshd") or "/usr/sbin/sshd"
    return found if os.access(found, os.X_OK) else None


def sshd_config(workdir: Path, port: int, user: str, max_sessions: int = MAX_SESSIONS) -> str:
    return "\n".join(
        [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {workdir / 'ssh_host_ed25519_key'}",
            f"PidFile {workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
            "UsePAM no",
            # Data directories are not root-owned 0755 all the way up.
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            f"AllowUsers {user}",
            f"MaxSessions {max_sessions}",
            # In-process SFTP: no dependency on the sftp-server binary's path, and it
            # works for users whose shell is nologin.
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
            "",
        ]
    )


def wait_for_banner(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"sshd exited with code {process.returncode}: {last_line(log)} (its log: {log})"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.recv(64).startswith(b"SSH-2.0-"):
                    return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"sshd on port {port} did not answer within 10s (its log: {log})")


def launch_sshd(
    binary: str,
    workdir: Path,
    port: int,
    user: str,
    *,
    max_sessions: int = MAX_SESSIONS,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Run sshd on ``workdir``'s config and keys until it greets on ``port``."""
    if os.getuid() == 0:
        # sshd's privilege separation needs this directory; Debian creates it at boot only.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    config = workdir / "sshd_config"
    config.write_text(sshd_config(workdir, port, user, max_sessions))
    log = workdir / "sshd.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [binary, "-D", "-e", "-f", str(config)],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # hearth stops it; a terminal's Ctrl-C is for hearth
        )
    wait_for_banner(port, process, log)
    return process


@dataclass
class DemoSshd:
    port: int
    user: str
    client_key: Path
    host_key_line: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _key(path: Path) -> asyncssh.SSHKey:
    if not path.exists():
        draft = path.with_name(path.name + ".new")
        asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(draft))
        draft.chmod(0o600)
        draft.replace(path)  # whole or not at all: a kill never leaves half a key
    return asyncssh.read_private_key(str(path))


def start_demo_sshd(workdir: Path, root: Path, port: int) -> DemoSshd:
    """Keys are kept in ``workdir``, so the pinned host key stays valid across runs."""
    binary = find_sshd()
    if binary is None:
        raise RuntimeError("sshd is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    host_key = _key(workdir / "ssh_host_ed25519_key")
    client = _key(workdir / "id_ed25519")
    (workdir / "authorized_keys").write_text(
        client.export_public_key("openssh").decode().strip() + "\n"
    )
    user = getpass.getuser()
    process = launch_sshd(binary, workdir, port, user, cwd=root)
    line = " ".join(host_key.export_public_key("openssh").decode().split()[:2])
    return DemoSshd(port, user, workdir / "id_ed25519", line, process)
