"""``hearth apply``: make the running Hearth equal to hearth.yaml."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hearth.cli.bus import admin_request
from hearth.cli.options import config_option
from hearth.cli.output import fail, out


@click.command()
@config_option(default=Path("hearth.yaml"))
@click.option("--dry-run", is_flag=True, help="show the changes without making them")
def apply(config_path: Path, dry_run: bool) -> None:
    """Make the running Hearth equal to hearth.yaml (repositories, notification routes)."""
    from rich.table import Table

    from hearth.apply import apply_config, change_lines
    from hearth.config import ConfigError, load_config

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
        return
    results = apply_config(config, admin_request, dry_run=dry_run)
    table = Table(title="hearth apply" + (" (dry run)" if dry_run else ""))
    for column in ("section", "result", "changes"):
        table.add_column(column)
    for result in results:
        changes = "\n".join(change_lines(result))
        table.add_row(
            result["section"],
            "[green]ok[/]" if result.get("ok") else f"[red]{result.get('error', 'failed')}[/]",
            changes or "no changes",
        )
    out.print(table)
    for result in results:  # the desired device config is read at once: show its errors
        for error in (result.get("device_config") or {}).get("errors", []):
            out.print(f"[yellow]device_config: {error}[/]")
    applied = all(r.get("ok") for r in results)
    if applied and not dry_run:
        from hearth.stack.layout import DataDir, data_dir

        # A restarted `hearth up` applies this file again instead of the demo or another.
        DataDir(data_dir()).remember_config(config_path)
    sys.exit(0 if applied else 1)
