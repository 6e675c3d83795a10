"""The running stack's ``stack.json`` and the CLI's own settings, read with the standard
library: every command starts here, so nothing heavy is imported (a test checks it)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def data_root() -> Path:
    """``HEARTH_DATA_DIR``, default ``./.hearth``, absolute (``hearth.stack.layout``'s)."""
    from hearth.stack.layout import data_dir

    return data_dir()


def config_file() -> Path:
    """The CLI's own settings: ``api_url`` and ``token``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hearth" / "cli.toml"


def cli_config() -> dict[str, Any]:
    """``cli.toml``'s settings ({} without one); ValueError names a broken file."""
    import tomllib

    path = config_file()
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None


#: Where the CLI looks for the API when nothing says otherwise (``hearth up``'s default).
DEFAULT_API_URL = "http://127.0.0.1:8080"


def cli_command() -> str:
    """How to run this CLI, as the commands Hearth suggests name it: ``scripts/hearth`` of
    a checkout (which sets ``HEARTH_CLI``), else ``hearth``."""
    return os.environ.get("HEARTH_CLI") or "hearth"


def setting(variable: str, found: dict[str, Any], key: str) -> tuple[str | None, str]:
    """The variable's value, else the config file's ``key`` (``found``); and where it came
    from, as a person would look for it."""
    if value := os.environ.get(variable):
        return value, variable
    value = found.get(key)
    return (str(value) if value else None), f"{key} in {config_file()}"


def checked_token(token: str, source: str) -> str:
    """The token as sent in a header: surrounding whitespace (a pasted line's end) is
    dropped; anything else no token holds is refused with one line (ValueError) before it
    reaches a request."""
    token = token.strip()
    if not token.isprintable() or not token.isascii() or any(c.isspace() for c in token):
        raise ValueError(
            f"{source} holds more than one token (a line break, a space or a control "
            f"character); set it to the token alone, as `{cli_command()} token create` printed it"
        )
    return token


def api_token() -> str | None:
    """``HEARTH_API_TOKEN``, else ``token`` in cli.toml (none when that file is broken),
    else None; checked as :func:`checked_token` does."""
    try:
        found = cli_config()
    except ValueError:
        found = {}
    token, source = setting("HEARTH_API_TOKEN", found, "token")
    return checked_token(token, source) if token else None


def state_file() -> Path:
    return data_root() / "stack.json"


def read_state() -> dict[str, Any] | None:
    """What ``hearth up`` recorded (URLs of NATS and every service), or None if not running."""
    path = state_file()
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def probe(url: str, timeout: float = 2) -> tuple[int, dict[str, Any]]:
    """GET a service's JSON endpoint: (HTTP status or 0 if unreachable, parsed body)."""
    from hearth.stack.probe import probe as get

    return get(url, timeout)
