"""Private OpenSSH ``sshd`` instances on loopback for the tests.

Each instance gets its own directory (host key, config, ``authorized_keys``, pid file,
log) and a free port on 127.0.0.1; nothing touches the machine's own sshd. Keys are
generated with asyncssh in-process (milliseconds), the client key once per session.

Run as root (here and in CI) an instance can log in as another local user, which is how
the permission tests get a user that root's file permissions actually apply to. Run as
anyone else, the instance serves only that user (sshd cannot switch users without root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from hearth.demo.sshd import MAX_SESSIONS, find_sshd, launch_sshd, sshd_config, wait_for_banner
from hearth.embedded.process import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def sshd_binary() -> str:
    """The sshd to run, installing Debian's openssh-server first when it is missing."""
    found = find_sshd()
    if found:
        return found
    subprocess.run([str(REPO_ROOT / "scripts" / "ensure-test-deps")], check=True)
    found = find_sshd()
    if found is None:
        raise RuntimeError("sshd is still missing after scripts/ensure-test-deps")
    return found


@dataclass(frozen=True)
class ClientKey:
    path: Path
    public_line: str

    @classmethod
    def generate(cls, directory: Path, name: str = "id_ed25519") -> ClientKey:
        key = asyncssh.generate_private_key("ssh-ed25519", comment=f"hearth-test-{name}")
        path = directory / name
        key.write_private_key(str(path))
        path.chmod(0o600)
        public = key.export_public_key("openssh").decode().strip()
        (directory / f"{name}.pub").write_text(public + "\n")
        return cls(path, public)


@dataclass
class SshServer:
    """A running sshd: connect as ``user`` with ``client_key`` and pin ``host_key_line``."""

    host: str
    port: int
    user: str
    client_key: Path
    host_key_line: str
    remote_root: Path
    workdir: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def log(self) -> str:
        path = self.workdir / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sshd(
    client_key: ClientKey,
    *,
    user: str | None = None,
    max_sessions: int = MAX_SESSIONS,
    port: int | None = None,
) -> SshServer:
    """Start sshd for ``user`` (default: whoever runs the tests), with a new host key.

    Pass the ``port`` of a stopped instance to simulate a reinstalled host."""
    binary = sshd_binary()
    me = pwd.getpwuid(os.getuid()).pw_name
    user = user or me
    if user != me and os.getuid() != 0:
        raise RuntimeError(f"only root can run an sshd that logs in as {user}")
    # Under /tmp rather than pytest's 0700 tmp_path: sshd reads authorized_keys as the
    # login user, who may not be the one running the tests.
    workdir = Path(tempfile.mkdtemp(prefix="hearth-sshd-"))
    workdir.chmod(0o755)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key_path = workdir / "ssh_host_ed25519_key"
    host_key.write_private_key(str(host_key_path))
    host_key_path.chmod(0o600)
    host_key_line = " ".join(host_key.export_public_key("openssh").decode().split()[:2])
    authorized = workdir / "authorized_keys"
    authorized.write_text(client_key.public_line + "\n")
    authorized.chmod(0o644)
    remote_root = workdir / "root"
    remote_root.mkdir()
    if user != me:  # like a home: the login user may write beside its root (backups)
        account = pwd.getpwnam(user)
        for path in (workdir, remote_root):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = port or free_port()
    process = launch_sshd(binary, workdir, port, user, max_sessions=max_sessions)
    return SshServer(
        host="127.0.0.1",
        port=port,
        user=user,
        client_key=client_key.path,
        host_key_line=host_key_line,
        remote_root=remote_root,
        workdir=workdir,
        process=process,
    )


def restart_sshd(server: SshServer, *, sftp: bool = True) -> None:
    """Restart the listening sshd on the same port and host key, as ``systemctl restart
    ssh`` does: connections already open keep their own process, and the configuration
    they started with; only new connections see the new one. ``sftp=False`` starts it
    without the SFTP subsystem (a broken configuration: every SFTP session is refused)."""
    server.stop()
    config = sshd_config(server.workdir, server.port, server.user)
    if not sftp:
        config = config.replace("Subsystem sftp internal-sftp\n", "")
    path = server.workdir / "sshd_config"
    path.write_text(config)
    log = server.workdir / "sshd.log"
    with log.open("ab") as out:
        server.process = subprocess.Popen(
            [sshd_binary(), "-D", "-e", "-f", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_for_banner(server.port, server.process, log)


def cleanup(server: SshServer) -> None:
    server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)


class TinyFilesystem:
    """A size-limited tmpfs mounted for a disk-full test (needs root with CAP_SYS_ADMIN,
    which the test container and CI have)."""

    def __init__(self, mountpoint: Path, size_bytes: int) -> None:
        self.mountpoint = mountpoint
        self.size_bytes = size_bytes

    def __enter__(self) -> TinyFilesystem:
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        command = ["mount", "-t", "tmpfs", "-o", f"size={self.size_bytes}"]
        command += ["tmpfs", str(self.mountpoint)]
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(
                "the disk-full test mounts a tiny tmpfs and needs root with CAP_SYS_ADMIN: "
                + result.stderr.strip()
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        subprocess.run(["umount", "-l", str(self.mountpoint)], check=False)
