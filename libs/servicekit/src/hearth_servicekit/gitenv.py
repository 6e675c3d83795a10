"""The environment every Git command Hearth runs gets.

- It never asks: no terminal prompt, no askpass program (a missing credential is an
  error, never a hang).
- Its messages are in English (``LC_ALL=C``), so the one line Hearth shows from them reads
  the same on every machine.
- Its housekeeping runs in the foreground. ``git fetch`` and ``git commit`` start
  ``git gc --auto`` (or ``git maintenance run --auto``) once enough packs or loose objects
  pile up, and by default that detaches into the background: a process that outlives the
  command, repacks and packs refs while the next fetch on the same mirror runs (and may
  hold a lock that fetch needs), and is left behind when Hearth stops. In the foreground it is
  part of the command: under the mirror's lock, within its timeout, and over when the
  command returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Settings given to every Git command, after the user's own (the later one wins).
FOREGROUND_HOUSEKEEPING = (
    ("gc.autoDetach", "false"),
    ("maintenance.autoDetach", "false"),
)


def git_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (the process's environment by default) with Hearth's Git settings added.
    Settings passed through ``GIT_CONFIG_COUNT`` already are kept, and numbered before
    Hearth's."""
    env = dict(os.environ if base is None else base)
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"})
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0  # git itself refuses such a count; Hearth's settings replace it
    for key, value in FOREGROUND_HOUSEKEEPING:
        env[f"GIT_CONFIG_KEY_{count}"] = key
        env[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)
    return env
