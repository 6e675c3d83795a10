"""The bulk bytes of a streamed upload through the system OpenSSH client, when installed.

asyncssh encrypts in Python's one thread at about 220 MB/s; the ``ssh`` binary does it in
its own process, in C, so a big first upload moves as fast as ``tar | ssh`` itself. Only
the tar stream goes this way: every other operation (and the renames into place) stays on
the pooled asyncssh connection.

Host keys stay exactly as strict: ``ssh`` gets a temporary known_hosts file holding only
the pinned (or, under trust on first use, already learned) keys under a fixed alias,
``StrictHostKeyChecking=yes``, no user or system configuration (``-F /dev/null``), no agent
and no prompts (``BatchMode``). A key the file does not hold refuses the upload with
:class:`HostKeyMismatch`. The client key goes to a 0600 file in a 0700 temporary directory
removed as soon as ``ssh`` exits. Without ``ssh``, with a passphrase-protected key, or
when ``ssh`` itself fails (exit 255 for another reason), the caller streams over asyncssh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from hearth_deployer.remote.errors import HostKeyMismatch
from hearth_deployer.remote.hostkeys import fingerprint, key_line

if TYPE_CHECKING:
    from hearth_deployer.remote.pool import HostPool, SSHTarget

log = logging.getLogger(__name__)

#: ``ssh`` exits 255 for its own errors (connection, authentication, host key).
SSH_FAILED = 255
_ALIAS = "hearth-target"
_HOST_KEY_REFUSED = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED")


class OpenSSHUnavailable(Exception):
    """This upload cannot go through the ``ssh`` binary; stream over asyncssh instead."""


def ssh_binary(pool: HostPool, target: SSHTarget) -> str | None:
    """The ``ssh`` to use for ``target``, or None (not installed, disabled, passphrase)."""
    name = pool.settings.ssh_client
    if name is None or target.passphrase is not None:
        return None
    return shutil.which(name)


def _write_secrets(folder: Path, pool: HostPool, target: SSHTarget) -> tuple[Path, Path]:
    keys = pool.pinned_host_keys(target)
    if not keys:
        raise OpenSSHUnavailable("no host key is known yet")
    known_hosts = folder / "known_hosts"
    known_hosts.write_text("".join(f"{_ALIAS} {key_line(key)}\n" for key in keys))
    if isinstance(target.client_key, bytes) or "PRIVATE KEY" in str(target.client_key):
        key_file = folder / "id"
        raw = target.client_key
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text if text.endswith("\n") else text + "\n")
    else:
        key_file = Path(str(target.client_key))
    return known_hosts, key_file


def ssh_command(
    binary: str, target: SSHTarget, known_hosts: Path, key_file: Path, timeout: float
) -> list[str]:
    options = {
        "BatchMode": "yes",
        "StrictHostKeyChecking": "yes",
        "UserKnownHostsFile": str(known_hosts),
        "GlobalKnownHostsFile": "/dev/null",
        "HostKeyAlias": _ALIAS,
        "CheckHostIP": "no",
        "UpdateHostKeys": "no",
        "IdentitiesOnly": "yes",
        "IdentityAgent": "none",
        "PreferredAuthentications": "publickey",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "ControlMaster": "no",
        "ControlPath": "none",
        "Compression": "no",
        "ConnectTimeout": str(max(1, round(timeout))),
        "LogLevel": "ERROR",
    }
    command = [binary, "-F", "/dev/null", "-T", "-x", "-a", "-i", str(key_file)]
    for name, value in options.items():
        command += ["-o", f"{name}={value}"]
    return [*command, "-p", str(target.port), "-l", target.user, "--", target.host]


async def run_streamed(
    pool: HostPool,
    target: SSHTarget,
    binary: str,
    remote_command: str,
    produce: Callable[[IO[bytes]], int],
) -> tuple[int, int, str]:
    """Run ``remote_command`` over a new ``ssh`` connection, ``produce`` writing its stdin
    (in a thread); (exit status, bytes produced, stderr). Raises :class:`HostKeyMismatch`
    on a host key the pinned ones do not include, :class:`OpenSSHUnavailable` when ``ssh``
    failed before the command ran and asyncssh should be used instead."""
    folder = Path(tempfile.mkdtemp(prefix="hearth-ssh-"))  # 0700
    try:
        known_hosts, key_file = _write_secrets(folder, pool, target)
        argv = ssh_command(binary, target, known_hosts, key_file, pool.settings.connect_timeout)
        read_end, write_end = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                remote_command,
                stdin=read_end,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        finally:
            os.close(read_end)
        out = os.fdopen(write_end, "wb", buffering=1024 * 1024)
        try:
            sent = await asyncio.to_thread(_produce, produce, out)
            assert process.stderr is not None
            stderr = (await process.stderr.read()).decode("utf-8", "replace")
            status = await process.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        finally:
            with contextlib.suppress(OSError):
                out.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if status == SSH_FAILED and any(text in stderr for text in _HOST_KEY_REFUSED):
        raise HostKeyMismatch(
            host=target.host,
            port=target.port,
            expected=[fingerprint(key) for key in pool.pinned_host_keys(target)],
            got="another key (refused by the ssh client)",
        )
    if status == SSH_FAILED:
        raise OpenSSHUnavailable(stderr.strip() or "ssh failed")
    return status, sent, stderr


def _produce(produce: Callable[[IO[bytes]], int], out: IO[bytes]) -> int:
    try:
        sent = produce(out)
        out.flush()
    except (BrokenPipeError, ConnectionError):
        return 0  # the remote command stopped reading: its exit status says why
    finally:
        with contextlib.suppress(OSError):
            out.close()
    return sent
