"""Running a command against the query API: settings, one-line problems, following."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import click

from hearth.cli.ids import IdProblem
from hearth.cli.output import console, emit_json, fail

if TYPE_CHECKING:
    from hearth.client import ApiClient

Action = Callable[["ApiClient"], Awaitable[int]]


def run_api(action: Action) -> None:
    """Run ``action`` against the API; problems are one line and exit code 2."""
    from hearth.client import ApiClient, ApiProblem, ApiSettings

    async def go() -> int:
        async with ApiClient(ApiSettings.load()) as client:
            return await action(client)

    try:
        code = asyncio.run(go())
    except (ApiProblem, IdProblem) as exc:
        fail(str(exc))
        return
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


async def accepted_then_follow(
    client: ApiClient,
    accepted: dict[str, Any],
    *,
    as_json: bool,
    follow: bool,
    good: frozenset[str] = frozenset({"succeeded"}),
) -> int:
    from rich.markup import escape

    from hearth.follow import STYLE, follow_deployment

    deployment_id = accepted["deployment_id"]
    if not follow:
        if as_json:
            emit_json(accepted)
        else:
            click.echo(deployment_id)
        return 0
    if not as_json:
        console.print(f"deployment {deployment_id} requested; following…", highlight=False)
    final = await follow_deployment(
        client, deployment_id, console.get(), show_steps=not as_json, show_logs=not as_json
    )
    if as_json:
        emit_json({k: v for k, v in final.items() if k not in ("logs", "diff")})
    else:
        status = final["status"]
        style = STYLE.get(status, "red")
        reason = f": {final['reason']}" if final.get("reason") else ""
        console.print(f"[{style}]{status}[/]{escape(reason)}", highlight=False)
    return 0 if final["status"] in good else 1
