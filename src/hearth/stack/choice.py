"""Which configuration ``hearth up`` applies: the one asked for, never the demo by surprise.

In order: ``--config FILE`` (which must exist), ``./hearth.yaml``, the file this data
directory was last started with (remembered, so starting from another folder does not
swap a real installation for the demo), and only when none of these exists, the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hearth.cli.state import cli_command
from hearth.stack.layout import DataDir
from hearth.stack.up import StackError


@dataclass(frozen=True)
class ConfigChoice:
    path: Path | None  # None: the demo
    why: str  # one line for the person: where the choice came from

    @property
    def demo(self) -> bool:
        return self.path is None


def choose_config(explicit: Path | None, cwd: Path, layout: DataDir) -> ConfigChoice:
    if explicit is not None:
        if not explicit.is_file():
            raise StackError(f"--config {explicit}: no such file")
        return ConfigChoice(explicit.resolve(), f"applying {explicit}")
    here = cwd / "hearth.yaml"
    if here.is_file():
        return ConfigChoice(here.resolve(), f"applying {here}")
    remembered = layout.remembered_config()
    if remembered is not None:
        if not remembered.is_file():
            raise StackError(
                f"this Hearth ({layout.root}) was last started with {remembered}, which is "
                "gone; restore it, or pass --config FILE"
            )
        return ConfigChoice(
            remembered, f"applying {remembered} (what {layout.root} last ran; --config to change)"
        )
    return ConfigChoice(
        None, f"no hearth.yaml here: running the demo (`{cli_command()} init` writes one)"
    )
