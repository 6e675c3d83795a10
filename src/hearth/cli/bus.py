"""Talking to the running Hearth over NATS as its admin user (tokens, config, rebuilds)."""

from __future__ import annotations

from typing import Any

from hearth.cli.output import fail
from hearth.cli.state import cli_command


def admin_request(subject: str, body: dict[str, Any], timeout: float = 15) -> dict[str, Any]:
    from hearth.stack.bus import BusError, request_sync
    from hearth.stack.layout import DataDir, data_dir

    layout = DataDir(data_dir())
    state = layout.read_state()
    if state is None:
        fail(f"Hearth is not running here; start it with `{cli_command()} up`", code=1)
        raise AssertionError  # unreachable: fail exits
    try:
        return request_sync(state, layout, subject, body, timeout)
    except BusError as exc:
        fail(str(exc), code=1)
        raise AssertionError from exc
