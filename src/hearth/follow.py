"""Following a deployment from the terminal until it ends: each step and log line once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from hearth.cli.state import cli_command
from hearth.client import ApiClient, ApiProblem

TERMINAL = {"succeeded", "failed", "superseded", "cancelled", "rolled_back", "rollback_failed"}
POLL_S = 0.5
UNKNOWN_FOR_S = 30.0
STYLE = {
    "succeeded": "green",
    "rolled_back": "yellow",
    "cancelled": "yellow",
    "superseded": "yellow",
}
LEVEL_STYLE = {"error": "red", "warning": "yellow", "debug": "dim"}


def describe_step(step: dict[str, Any]) -> str:
    data = step["data"]
    kind = str(step["type"])
    if kind == "ConfigFetched":
        return f"fetched {data['commit'][:12]} ({data['files']} files)"
    if kind == "DeploymentPlanned":
        counts = (len(data.get(k, [])) for k in ("added", "changed", "removed"))
        return "planned: {} added, {} changed, {} removed".format(*counts)
    if kind == "BackupTaken":
        return f"backup {data['backup_id']} ({data['files']} files)"
    if kind == "FilesDeployed":
        return f"uploaded {data['written']} files, removed {data['removed']}"
    if kind == "ServiceRestarted":
        domains = ", ".join(data.get("domains") or ())
        return f"{data['method']} {data['service']}" + (f" ({domains})" if domains else "")
    if kind == "DeploymentWaiting":  # it begins by itself once the secrets exist
        names = list(data.get("waiting_for") or ())
        if not names:
            return str(data.get("reason") or kind)
        each = names[0] if len(names) == 1 else "NAME"
        return (
            f"waiting for secret {', '.join(names)}: store "
            f"{'it' if len(names) == 1 else 'each'} with `{cli_command()} secret set {each}` "
            "(the deployment then begins by itself; Ctrl-C stops only the following)"
        )
    if kind in {"DeploymentFailed", "RollbackFailed", "HostCheckFailed", "HealthCheckFailed"}:
        return f"{kind}: {data.get('reason') or data.get('errors') or data.get('detail')}"
    return kind


def exit_code(status: str) -> int:
    return 0 if status == "succeeded" else 1


async def follow_deployment(
    client: ApiClient,
    deployment_id: str,
    console: Console,
    *,
    show_steps: bool = True,
    show_logs: bool = True,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> dict[str, Any]:
    """Print what happens until the deployment is terminal; returns its final state."""
    seen_steps: set[int] = set()
    seen_logs: set[tuple[int, int]] = set()
    unknown_since = time.monotonic()
    while True:
        try:
            detail: dict[str, Any] = await client.call(
                "GET", f"/api/v1/deployments/{deployment_id}"
            )
        except ApiProblem as problem:
            # Just requested: the read side has not seen it yet.
            if problem.status != 404 or time.monotonic() - unknown_since > UNKNOWN_FOR_S:
                raise
            await sleep(POLL_S)
            continue
        steps = detail["steps"] if show_steps else []
        lines = detail["logs"] if show_logs else []
        _print_new(console, steps, seen_steps, lines, seen_logs)
        if detail["status"] in TERMINAL:
            return detail
        await sleep(POLL_S)


def _print_new(
    console: Console,
    steps: list[dict[str, Any]],
    seen_steps: set[int],
    lines: list[dict[str, Any]],
    seen_lines: set[tuple[int, int]],
) -> None:
    """The steps and log lines not printed yet, in the order they happened. The deployer
    stores a quick step's info lines with a later event, so a poll can bring lines older
    than the steps beside them; a line comes before a step of the same moment (it was
    logged before the step was recorded)."""
    new: list[tuple[datetime, int, Text | str]] = []
    for step in steps:
        if step["seq"] not in seen_steps:
            seen_steps.add(step["seq"])
            new.append(
                (datetime.fromisoformat(step["at"]), 1, f"  [bold]>[/] {describe_step(step)}")
            )
    for line in lines:
        key = (line["seq"], line["line_no"])
        if key not in seen_lines:
            seen_lines.add(key)
            style = LEVEL_STYLE.get(line["level"], "")
            new.append(
                (datetime.fromisoformat(line["at"]), 0, Text(f"    {line['message']}", style=style))
            )
    for _, _, shown in sorted(new, key=lambda item: item[:2]):
        console.print(shown, highlight=False)
