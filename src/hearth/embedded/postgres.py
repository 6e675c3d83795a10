"""PostgreSQL from the binaries in the ``pgserver`` wheel.

We use the wheel's binaries but not its server class: Hearth chooses the port, listens on
loopback only with password authentication, and keeps the password beside the data.
PostgreSQL refuses to run as root, so as root it runs as a dedicated system user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from hearth.embedded.process import EmbeddedServerError, port_in_use, tail

DEFAULT_POSTGRES_PORT = 5433
SYSTEM_USER = "hearth-pg"
SUPERUSER = "hearth"


def postgres_bin_dir() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(
            "the pgserver wheel is not installed; run `uv sync`, or set HEARTH_DATABASE_URL "
            "to an existing PostgreSQL"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise EmbeddedServerError(f"pgserver's binaries are missing under {bin_dir}")
    return bin_dir


def _ensure_system_user() -> str | None:
    """The user PostgreSQL runs as: ourselves, or a dedicated user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _open_path_for(path: Path) -> None:
    """Let other users traverse ``path`` and its parents (pytest's temp dirs are 0700)."""
    resolved = path.resolve()
    for parent in (*reversed(resolved.parents), resolved):
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


@dataclass
class EmbeddedPostgres:
    directory: Path
    port: int = DEFAULT_POSTGRES_PORT
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    @property
    def password_path(self) -> Path:
        return self.directory / "superuser.password"

    def dsn(self, database: str = "postgres") -> str:
        password = quote(self.password_path.read_text().strip(), safe="")
        return f"postgresql://{SUPERUSER}:{password}@{self.host}:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(postgres_bin_dir() / tool), *args]
        user = _ensure_system_user()
        if user is None:
            return subprocess.run(
                command, check=False, capture_output=True, text=True, timeout=timeout, cwd="/"
            )
        # Drop root's groups too: with gid 0 kept, some kernels refuse the user its own files.
        return subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            user=user,
            group=user,
            extra_groups=[],
        )

    def _prepare(self) -> None:
        user = _ensure_system_user()
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.password_path.exists():
            self.password_path.write_text(secrets.token_urlsafe(24))
        self.password_path.chmod(0o600)
        if user is None:
            return
        _open_path_for(self.directory)
        entry = pwd.getpwnam(user)
        bin_dir = postgres_bin_dir()
        _open_path_for(bin_dir)
        for path in (bin_dir.parent, bin_dir, bin_dir.parent / "lib", bin_dir.parent / "share"):
            if path.exists():
                path.chmod(path.stat().st_mode | 0o005)
        self.data_dir.mkdir(exist_ok=True)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.log_path.touch()
        os.chown(self.log_path, entry.pw_uid, entry.pw_gid)

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def start(self) -> None:
        if port_in_use(self.host, self.port) and not self.running:
            raise EmbeddedServerError(
                f"port {self.host}:{self.port} for PostgreSQL is already taken; stop what uses "
                f"it or set HEARTH_DATABASE_URL to that server"
            )
        self._prepare()
        if not self.initialised():
            pwfile = self.directory / ".initdb-pw"
            pwfile.write_text(self.password_path.read_text().strip())
            user = _ensure_system_user()
            if user:
                entry = pwd.getpwnam(user)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            pwfile.chmod(0o600)
            try:
                result = self._run(
                    "initdb",
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                )
            finally:
                pwfile.unlink(missing_ok=True)
            if result.returncode != 0:
                raise EmbeddedServerError(f"initdb failed: {result.stderr.strip()}")
        if self.running:
            return
        options = (
            f"-h {self.host} -p {self.port} -c unix_socket_directories='' "
            "-c max_connections=200 -c fsync=on"
        )
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"PostgreSQL did not start: {result.stderr.strip() or result.stdout.strip()}\n"
                f"{tail(self.log_path)}"
            )

    @property
    def running(self) -> bool:
        if not self.data_dir.exists():
            return False
        result = self._run("pg_ctl", "-D", str(self.data_dir), "status")
        return result.returncode == 0

    def stop(self, mode: str = "fast") -> None:
        if not self.running:
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")
