"""The deployer's domain errors."""

from __future__ import annotations


class IllegalTransition(Exception):
    """A command an aggregate refuses in the state it is in (the aggregate is unchanged)."""
