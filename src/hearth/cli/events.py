"""``hearth events tail``: the live feed on the terminal."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from hearth.cli.api import run_api

if TYPE_CHECKING:
    from hearth.client import ApiClient


@click.group()
def events() -> None:
    """The event stream."""


@events.command("tail")
@click.option("--type", "types", multiple=True, help="event type (repeatable)")
@click.option("--target")
@click.option("--device")
@click.option("--json", "as_json", is_flag=True, help="one JSON envelope per line")
def events_tail(
    types: tuple[str, ...], target: str | None, device: str | None, as_json: bool
) -> None:
    """Print events as they happen (Ctrl-C stops)."""

    async def action(client: ApiClient) -> int:
        params = {"type": ",".join(types) or None, "target": target, "device": device}

        def connected(resumed_after: str | None) -> None:
            # On stderr, so that --json output stays one envelope per line.
            if resumed_after is None:
                click.echo(f"following events at {client.settings.url} (Ctrl-C stops)", err=True)
            else:
                click.echo(f"reconnected; resuming after event {resumed_after}", err=True)

        async for event in client.events(connected, **params):
            if as_json:
                click.echo(json.dumps(event))
            else:
                click.echo(
                    f"{event['seq']:>7} {str(event['occurred_at'])[11:19]} "
                    f"{event['type']:<22} {event['key']:<20} {event['actor']}"
                )
        return 0

    run_api(action)
