"""What ``hearth up`` sends once the services are ready: secrets, declarations, a token.

The demo never pushes a real installation aside: when applying it would remove targets,
repositories or routes that came from another file, it is not applied at all. Its admin
token is created once and reused while it is valid, instead of one more per start.
"""

from __future__ import annotations

import asyncio
import urllib.request
from typing import TYPE_CHECKING, Any

from hearth.apply import apply_config
from hearth.cli.state import cli_command
from hearth.config import HearthConfig
from hearth.stack.bus import BusError, request_sync, store_secrets
from hearth.stack.choice import ConfigChoice
from hearth.stack.layout import write_private
from hearth.stack.up import Stack

if TYPE_CHECKING:
    from hearth.demo.launch import Demo
    from hearth.stack.report import Reporter


def store_demo_secrets(state: dict[str, Any], stack: Stack, demo: Demo) -> None:
    from hearth.secret_scopes import infer_scopes

    values = {
        (scope, name): value
        for name, value in demo.secrets.items()
        for scope in infer_scopes(demo.config, name, "the demo")
    }
    asyncio.run(store_secrets(state, stack.layout, values))


def apply_chosen(
    state: dict[str, Any],
    stack: Stack,
    *,
    choice: ConfigChoice,
    config: HearthConfig | None,
    demo: Demo | None,
    report: Reporter,
) -> None:
    def request(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return request_sync(state, stack.layout, subject, body)
        except BusError as exc:
            return {"ok": False, "error": str(exc)}

    if demo is None:
        assert config is not None and choice.path is not None
        results = apply_config(config, request, dry_run=False)
        report.applied(str(choice.path), results)
        if all(r.get("ok") for r in results):
            stack.layout.remember_config(choice.path)
        return
    planned = apply_config(demo.config, request, dry_run=True)
    removed = [
        f"{change['type'].removesuffix('Removed').lower()} {change['name']}"
        for result in planned
        for change in result.get("changes", [])
        if change["type"].endswith("Removed")
    ]
    if removed:
        report.say(
            "the demo is not applied: it would remove " + ", ".join(removed) + ", declared "
            f"from another file; start Hearth with that file: {cli_command()} up --config FILE"
        )
        return
    report.applied("demo", apply_config(demo.config, request, dry_run=False))


def demo_token(state: dict[str, Any], stack: Stack, demo: Demo) -> str:
    """The demo's admin token: the one from last time while it still works, else a new one."""
    api = state["services"]["query-api"]["url"]
    path = demo.admin_token_file
    if path.exists() and _accepted(api, token := path.read_text().strip()):
        return token
    for attempt in range(1, 100):
        name = "demo-admin" if attempt == 1 else f"demo-admin-{attempt}"
        try:
            reply = request_sync(
                state,
                stack.layout,
                "hearth.cmd.query.CreateToken",
                {"name": name, "role": "admin", "actor": "hearth up"},
            )
        except BusError as exc:
            return f"(could not create one: {exc})"
        if reply.get("ok"):
            write_private(path, reply["token"])
            return str(reply["token"])
        if "exists" not in str(reply.get("error")):
            return f"(could not create one: {reply.get('error', '?')})"
    return (
        "(could not create one: too many demo tokens; revoke some with "
        f"{cli_command()} token revoke)"
    )


def _accepted(api: str, token: str) -> bool:
    request = urllib.request.Request(  # noqa: S310 (our own API's URL)
        api + "/api/v1/targets", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (our own URL)
            return bool(response.status == 200)
    except OSError:
        return False
