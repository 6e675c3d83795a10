"""The fence a deployment puts around every write to a host.

A :class:`Fence` answers "may this process still write to the host?". The deployer's
lease is one (see ``hearth_deployer.adapters.lease``): valid only while the last successful renewal
is recent enough. Every remote operation that changes the host calls ``check`` right
before each write it starts (cheap: a clock read) and ``confirm`` once before it moves files
into place (one round trip to the lease's store). Whatever a failed check raises is not an
``Exception``, so no step mistakes it for a failure of its own and goes on to compensate.
"""

from __future__ import annotations

from typing import Protocol


class Fence(Protocol):
    def valid(self) -> bool:
        """Whether writing may go on (never blocks)."""

    def check(self, step: str) -> None:
        """Raise unless writing may go on; ``step`` names what is about to be written."""

    async def confirm(self, step: str) -> None:
        """``check``, then ask the lease's store once that the lease is still ours."""


class Unfenced:
    """For tools and tests that own the host outright."""

    def valid(self) -> bool:
        return True

    def check(self, step: str) -> None:
        return None

    async def confirm(self, step: str) -> None:
        return None


UNFENCED: Fence = Unfenced()
