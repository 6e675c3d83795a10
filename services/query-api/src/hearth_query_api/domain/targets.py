"""A target's status colour on the dashboard and in the API."""

from __future__ import annotations

from typing import Any


def target_status(row: Any) -> str:
    if row["removed"]:
        return "grey"
    return {"succeeded": "green", "rolled_back": "amber", None: "grey"}.get(
        row["last_status"], "red"
    )
