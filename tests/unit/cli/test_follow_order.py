"""`hearth deploy` and `hearth rollback` print steps and log lines in the order they
happened, though the deployer stores a quick step's lines with a later event."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from hearth.follow import follow_deployment


def at(ms: int) -> str:
    return f"2026-12-06T21:29:40.{ms:03}000Z" if ms % 1000 else "2026-12-06T21:29:40Z"


def step(seq: int, kind: str, ms: int) -> dict[str, Any]:
    return {"seq": seq, "type": kind, "at": at(ms), "data": {}}


def line(seq: int, n: int, message: str, ms: int) -> dict[str, Any]:
    return {"seq": seq, "line_no": n, "at": at(ms), "level": "info", "message": message}


class Polls:
    """The deployment as two polls see it: started, then ended with the log stored."""

    def __init__(self) -> None:
        started = step(1, "DeploymentStarted", 0)
        self.answers = [
            {"status": "running", "steps": [started], "logs": []},
            {
                "status": "succeeded",
                "steps": [started, step(3, "ConfigValidated", 200), step(5, "Finished", 400)],
                "logs": [  # one DeploymentLogged, stored before the ending
                    line(4, 0, "deploying commit abc", 0),
                    line(4, 1, "validated 4 files", 150),
                    line(4, 2, "reloaded", 300),
                    line(4, 3, "healthy", 400),
                ],
            },
        ]

    async def call(self, method: str, path: str) -> dict[str, Any]:
        return self.answers.pop(0)


async def test_lines_stored_later_print_in_the_order_they_happened() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)

    async def no_wait(seconds: float) -> None:
        return None

    final = await follow_deployment(Polls(), "d1", console, sleep=no_wait)  # type: ignore[arg-type]
    assert final["status"] == "succeeded"
    assert [row.strip() for row in out.getvalue().splitlines()] == [
        "> DeploymentStarted",
        "deploying commit abc",  # older than the step printed before it: first of its poll
        "validated 4 files",
        "> ConfigValidated",
        "reloaded",
        "healthy",  # a line before a step of the same moment
        "> Finished",
    ]


def test_a_deployment_waiting_for_a_secret_says_which_and_what_to_run(
    monkeypatch: Any,
) -> None:
    """Following a deployment held for a missing secret used to print "DeploymentWaiting"
    and nothing more, for as long as the secret was missing."""
    from hearth.follow import describe_step

    monkeypatch.setenv("HEARTH_CLI", "/src/hearth/scripts/hearth")
    waiting: dict[str, Any] = {
        "type": "DeploymentWaiting",
        "data": {"waiting_for": ["ha-ssh-key"], "reason": "waiting for secret ha-ssh-key"},
    }
    assert describe_step(waiting) == (
        "waiting for secret ha-ssh-key: store it with `/src/hearth/scripts/hearth secret set "
        "ha-ssh-key` (the deployment then begins by itself; Ctrl-C stops only the following)"
    )
    waiting["data"]["waiting_for"] = ["ha-ssh-key", "ha-token"]
    assert describe_step(waiting).startswith(
        "waiting for secret ha-ssh-key, ha-token: store each with "
        "`/src/hearth/scripts/hearth secret set NAME`"
    )
