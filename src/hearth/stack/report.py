"""How ``hearth up`` talks to the person at the terminal (rich on stderr)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console
from rich.table import Table

from hearth.apply import change_lines
from hearth.cli.state import DEFAULT_API_URL, cli_command
from hearth.stack.up import Stack

if TYPE_CHECKING:
    from hearth.demo.launch import Demo


class Reporter(Protocol):
    """What ``hearth up`` tells the person who started it."""

    def step(self, text: str) -> Any: ...  # a context manager showing work in progress
    def say(self, text: str) -> None: ...
    def summary(self, state: dict[str, Any], ready: dict[str, bool], stack: Stack) -> None: ...
    def applied(self, source: str, results: list[dict[str, Any]]) -> None: ...
    def demo(self, demo: Demo, state: dict[str, Any], token: str) -> None: ...


class ConsoleReport:
    def __init__(self, console: Console) -> None:
        self.console = console

    def step(self, text: str) -> AbstractContextManager[Any]:
        return self.console.status(text)

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)

    def summary(self, state: dict[str, Any], ready: dict[str, bool], stack: Stack) -> None:
        table = Table(title="Hearth is up", show_header=True, header_style="bold")
        table.add_column("service")
        table.add_column("ready")
        table.add_column("url")
        for name, service in state["services"].items():
            table.add_row(name, "[green]yes[/]" if ready[name] else "[red]no[/]", service["url"])
        self.console.print(table)
        services, layout = state["services"], stack.layout
        for line in (
            f"dashboard & API  {services['query-api']['url']}",
            f"GitHub webhooks  {services['webhook-gw']['url']}/webhooks/github",
            f"NATS             {state['nats_url']}",
            f"inspect with     nats --context {layout.inspector_context} stream ls",
            f"logs             {layout.logs_dir}/",
            "Ctrl-C stops everything.",
        ):
            self.say(line)

    def applied(self, source: str, results: list[dict[str, Any]]) -> None:
        for result in results:
            outcome = "applied" if result.get("ok") else f"NOT applied: {result['error']}"
            deploys = "".join(f"; {c}" for c in change_lines(result) if c.startswith("deploys "))
            self.say(f"{source} {result['section']}: {outcome}{deploys}")

    def demo(self, demo: Demo, state: dict[str, Any], token: str) -> None:
        from hearth.demo.launch import POLL_S

        api = state["services"]["query-api"]["url"]
        # What an API command needs, from any folder (the demo's repository has no .hearth):
        # the token, and the API's address when it is not where the CLI looks by default.
        api_command = (
            "HEARTH_API_TOKEN=<admin token> "
            + ("" if api == DEFAULT_API_URL else f"HEARTH_API_URL={api} ")
            + cli_command()
        )
        lines = [
            f"[bold]Demo[/] (no hearth.yaml here; `{cli_command()} init` writes one for your "
            "own hosts)",
            f"  Git repository   {demo.checkout}  (Hearth polls it every {POLL_S} s)",
            f"  SSH host folder  {demo.host_dir}",
            f"  Home Assistant   {demo.ha_url}  (simulated: it checks and 'restarts' the files)",
            f"  dashboard        {api}/  (sign in with the admin token)",
            f"  admin token      {token}",
            "  try it:          cd " + str(demo.checkout) + " && $EDITOR automations.yaml && "
            "git commit -am 'my change' && git push",
            f"  then watch       {api}/  or  {api_command} deployments",
            *_fleet_lines(demo, api, api_command),
        ]
        lines.extend(f"  [yellow]note[/]            {note}" for note in demo.notes)
        for line in lines:
            self.console.print(line, highlight=False, soft_wrap=True)


def _fleet_lines(demo: Demo, api: str, api_command: str) -> list[str]:
    """What to try with the simulated Shelly devices (none when the demo runs none);
    ``api_command`` runs the CLI with what an API command needs."""
    if not demo.devices:
        return []
    names = ", ".join(f"{d.name} (Gen{d.gen})" for d in demo.devices)
    offering = [d.name for d in demo.devices if d.offer]
    lines = [
        f"  Shelly devices   {names}: simulated, desired config in {demo.fleet_checkout}/devices/",
        f"  fleet            {api}/devices  or  {api_command} devices ls",
        "  drift            kettle differs from Git (its group only alerts): press Apply on "
        f"its page, or {api_command} devices apply kettle, and watch its dot turn green",
    ]
    if offering:
        lines.append(
            f"  firmware         {', '.join(offering)} offers an update: "
            f"{api}/rollouts, Update firmware on its page, or {api_command} firmware rollout"
        )
    return lines
