"""Ports for servers a test stops and starts again on the same port.

``free_port`` asks the kernel for an ephemeral port and lets it go; any process that
binds port 0 or connects out afterwards may be handed the same port. A server that is
killed and restarted (a NATS cluster node in a quorum or fault test) would then find its
port taken by another test's server, in another pytest worker. A port below the kernel's
ephemeral range is never handed out that way.

A killed node's port is free until it restarts, so a quiet port is also never handed
out twice by one process (the test's own services, started while the node was down,
once took its port), and each pytest worker picks from a share of the range of its own
(another worker's test had taken it too). The range ends where the ``hearth up`` tests'
blocks of ports begin (``tests/support/stack.py``).
"""

from __future__ import annotations

import os
import random

from hearth.embedded.process import port_in_use

#: Below Linux's default ephemeral range (32768-60999), above the well-known ports, and
#: below the ``hearth up`` tests' ports (24000-32000).
QUIET_RANGE = (12000, 23999)

_handed_out: set[int] = set()


def worker_range() -> tuple[int, int]:
    """This pytest worker's share of :data:`QUIET_RANGE` (all of it outside xdist)."""
    low, high = QUIET_RANGE
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    if not worker.startswith("gw") or count < 2:
        return low, high
    index = int(worker[2:]) % count
    width = (high - low + 1) // count
    return low + index * width, low + (index + 1) * width - 1


def quiet_port() -> int:
    """A free port of this worker's share, never handed out before by this process."""
    rng = random.Random()
    low, high = worker_range()
    while True:
        port = rng.randint(low, high)
        if port not in _handed_out and not port_in_use("127.0.0.1", port):
            _handed_out.add(port)
            return port


def quiet_ports(count: int) -> list[int]:
    """``count`` distinct :func:`quiet_port` ports."""
    return [quiet_port() for _ in range(count)]
