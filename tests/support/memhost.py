"""A target host in memory for the deployer's behavioural tests (no sshd).

A :class:`MemoryBox` stands where an ``SshServer`` stands in a test (``files_target``
and ``ha_target`` take either): its :class:`MemoryHost` holds the files, and after
every change they are mirrored into ``remote_root``, a local directory that the Home
Assistant simulator judges and the test reads. The mirror is a view: seed the host with
:meth:`MemoryBox.write`, never by writing into ``remote_root``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from hearth_deployer.remote import MemoryHost, MemoryHosts

#: Any pinned key will do: the memory host never checks one.
HOST_KEY_LINE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhlYXJ0aC1tZW1vcnktaG9zdC1rZXktZmFrZQ"


@dataclass
class MemoryBox:
    remote_root: Path
    hosts: MemoryHosts = field(default_factory=MemoryHosts)
    host: str = "box.lan"
    port: int = 22
    user: str = "hearth"
    host_key_line: str = HOST_KEY_LINE
    client_key_text: str = "no key: the memory host takes any"

    def __post_init__(self) -> None:
        self.remote_root.mkdir(parents=True, exist_ok=True)
        self.memory: MemoryHost = self.hosts.add(
            self.host, self.user, port=self.port, roots=[str(self.remote_root)]
        )
        self.memory.state.on_change = self.mirror

    def write(self, rel: str, text: str, mode: int = 0o644) -> None:
        """Put a file on the host (as its owner would), outside any deployment."""
        self.memory.put(f"{self.remote_root}/{rel}", text.encode(), mode)

    def mirror(self) -> None:
        """Make ``remote_root`` hold exactly what the host holds under it."""
        root = self.remote_root
        shutil.rmtree(root)
        root.mkdir()
        prefix = f"{root}/"
        for directory in sorted(d for d in self.memory.state.dirs if d.startswith(prefix)):
            Path(directory).mkdir(parents=True, exist_ok=True)
        for path, found in self.memory.files.items():
            if path.startswith(prefix):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_bytes(found.data)
                os.chmod(path, found.mode)
