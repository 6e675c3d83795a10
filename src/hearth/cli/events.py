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
@click.option(
    "--reconnect-for",
    type=click.FloatRange(0),
    default=30,
    show_default=True,
    metavar="SECONDS",
    help="how long to try to reconnect once the API is lost (then exit 2)",
)
def events_tail(
    types: tuple[str, ...],
    target: str | None,
    device: str | None,
    as_json: bool,
    reconnect_for: float,
) -> None:
    """Print events as they happen (Ctrl-C stops)."""
    from hearth.feed import follow_feed

    async def action(client: ApiClient) -> int:
        params: dict[str, str | None] = {
            "type": ",".join(types) or None,
            "target": target,
            "device": device,
        }

        # On stderr, so that --json output stays one envelope per line.
        def connected(again: bool, resumed_after: str | None) -> None:
            if not again:
                click.echo(f"following events at {client.settings.url} (Ctrl-C stops)", err=True)
            elif resumed_after is not None:
                click.echo(f"reconnected; resuming after event {resumed_after}", err=True)
            else:
                click.echo(f"reconnected to {client.settings.url}", err=True)

        def lost(why: str) -> None:
            click.echo(
                f"lost the feed at {client.settings.url} ({why}); "
                f"reconnecting for up to {reconnect_for:.0f}s",
                err=True,
            )

        feed = follow_feed(
            client, params, on_connected=connected, on_lost=lost, reconnect_for=reconnect_for
        )
        async for event in feed:
            if as_json:
                click.echo(json.dumps(event))
            else:
                click.echo(
                    f"{event['seq']:>7} {str(event['occurred_at'])[11:19]} "
                    f"{event['type']:<22} {event['key']:<20} {event['actor']}"
                )
        return 0

    run_api(action)
