"""Which secrets a deployment needs before it may begin, and which of them are missing.

A target declared before its secrets were stored (the first run: `hearth up` applies
hearth.yaml, then the user runs `hearth secret set`) holds its deployment instead of
failing it: the deployment begins by itself once every secret it needs exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hearth_events.catalogue import RepositorySpec, TargetSpec


class SecretLookup(Protocol):
    """The secret store as a deployment sees it: a value by name, or None."""

    async def get(self, name: str) -> bytes | None: ...


def secrets_needed(
    spec: TargetSpec, repository: Callable[[str], RepositorySpec | None]
) -> dict[str, str]:
    """Secret name -> what it is, for every secret a deployment of ``spec`` reads."""
    needed = {spec.key_secret: "the SSH private key"}
    if spec.kind == "homeassistant" and spec.ha_url and spec.ha_token_secret:
        needed.setdefault(spec.ha_token_secret, "the Home Assistant access token")
    repo = repository(spec.repo)
    if repo is not None and repo.token_secret:
        needed.setdefault(repo.token_secret, f"the API token of {repo.name}")
    return needed


async def missing_secrets(
    secrets: SecretLookup,
    spec: TargetSpec,
    repository: Callable[[str], RepositorySpec | None],
) -> dict[str, str]:
    needed = secrets_needed(spec, repository)
    return {name: what for name, what in needed.items() if await secrets.get(name) is None}


def waiting_text(missing: dict[str, str]) -> str:
    names = ", ".join(f"{name} ({what})" for name, what in missing.items())
    plural = "s" if len(missing) > 1 else ""
    return f"waiting for secret{plural} {names}: store with `hearth secret set <name>`"
