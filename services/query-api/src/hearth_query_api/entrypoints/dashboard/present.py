"""How the templates word and format things: status labels, times, durations, plans."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

LABEL = {
    "queued": "queued",
    "running": "running",
    "rolling_back": "rolling back",
    "succeeded": "succeeded",
    "failed": "failed",
    "rolled_back": "rolled back",
    "rollback_failed": "rollback failed",
    "cancelled": "cancelled",
    "superseded": "superseded",
    "waiting": "waiting for a secret",
}
# A finished deployment whose rollback put the host back as it was says so.
RESTORED = {"failed": "failed — host restored", "cancelled": "cancelled — host restored"}


def status_label(
    status: str | None, rolled_back: bool = False, dry_run: bool = False, untouched: bool = False
) -> str:
    """A status as people read it: ``rolled_back`` → "rolled back"."""
    if status is None:
        return "never deployed"
    if dry_run and status == "succeeded":
        return "dry run finished"
    if untouched and status == "failed":
        return "failed — host untouched"
    if rolled_back and status in RESTORED:
        return RESTORED[status]
    return LABEL.get(status, status.replace("_", " "))


def words(name: str) -> Markup:
    """``DeploymentSucceeded`` may break between its words on a phone, never inside one."""
    return Markup("<wbr>").join(escape(part) for part in re.split(r"(?<=[a-z])(?=[A-Z])", name))


def utc(at: datetime) -> str:
    """The absolute time, in UTC and saying so (the browser shows its own zone)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(at: datetime, now: datetime | None = None) -> str:
    """ "3 min ago", as the page is rendered; app.js keeps it current."""
    seconds = int(((now or datetime.now(UTC)) - at).total_seconds())
    if seconds < 0:
        return "just now" if seconds > -60 else "in the future"
    if seconds < 45:
        return "just now"
    for size, unit in ((86400 * 365, "y"), (86400 * 30, "mo"), (86400, "d"), (3600, "h")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{max(1, round(seconds / 60))} min ago"


def duration(ms: float | None) -> str:
    """128 ms, 4.2 s, 3 min 5 s."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{int(ms)} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(int(ms / 1000), 60)
    return f"{minutes} min {seconds} s"


def plan_summary(plan: dict[str, Any] | None, diff: str) -> dict[str, Any] | None:
    """What a plan changes: counts, and how many of the files are binary (no text diff)."""
    if plan is None:
        return None
    added, changed, removed = (list(plan.get(k) or ()) for k in ("added", "changed", "removed"))
    lines = diff.splitlines()
    return {
        "added": len(added),
        "changed": len(changed),
        "removed": len(removed),
        "total": len(added) + len(changed) + len(removed),
        "binary": sum(1 for line in lines if line.startswith("Binary files ")),
        "text": sum(1 for line in lines if line.startswith("@@")) > 0,
    }


# -- the fleet ---------------------------------------------------------------------------
DEVICE_TONE = {"online": "ok", "offline": "bad"}
#: A live status field (``compact_status`` of the device manager) and how it reads.
LIVE_UNITS = {"apower": " W", "tC": " °C", "brightness": " %", "current_pos": " %", "rh": " %"}


def device_tone(status: str) -> str:
    return DEVICE_TONE.get(status, "muted")


def pretty(value: Any) -> str:
    """A desired or actual value as people read it (JSON, so a string keeps its quotes)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def value_source(difference: dict[str, Any]) -> str:
    """Where the desired value comes from (profile, group or the device's own file), when
    the device manager said so in the diff."""
    found = difference.get("source") or difference.get("from") or difference.get("origin")
    return str(found) if found else "—"


def live_field(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"{name} {'on' if value else 'off'}"
    return f"{name} {value}{LIVE_UNITS.get(name, '')}"


ROLLOUT_TONE = {
    "completed": "ok",
    "updated": "ok",
    "running": "busy",
    "updating": "busy",
    "halted": "bad",
    "failed": "bad",
}


def rollout_tone(status: str) -> str:
    return ROLLOUT_TONE.get(status, "muted")
