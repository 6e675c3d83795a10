"""Ports for servers a test stops and starts again on the same port.

``free_port`` asks the kernel for an ephemeral port and lets it go; any process that
binds port 0 or connects out afterwards may be handed the same port. A server that is
killed and restarted (a NATS cluster node in a quorum or fault test) would then find its
port taken by another test's server, in another pytest worker. A port below the kernel's
ephemeral range is never handed out that way.
"""

from __future__ import annotations

import random

from hearth.embedded.process import port_in_use

#: Below Linux's default ephemeral range (32768-60999), above the well-known ports.
QUIET_RANGE = (12000, 32000)


def quiet_port() -> int:
    """A free port outside the ephemeral range (see the module's text)."""
    rng = random.Random()
    while port_in_use("127.0.0.1", port := rng.randint(*QUIET_RANGE)):
        pass
    return port


def quiet_ports(count: int) -> list[int]:
    """``count`` distinct :func:`quiet_port` ports."""
    found: list[int] = []
    while len(found) < count:
        port = quiet_port()
        if port not in found:
            found.append(port)
    return found
