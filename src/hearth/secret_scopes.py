"""Which scope a secret belongs to, from where ``hearth.yaml`` references its name.

A reference names the services that read the value: a webhook secret is the webhook
gateway's; an SSH key or a Home Assistant token is the deployer's; an Apprise URL is the
notifier's. A repository's ``token_secret`` is read by both the deployer (CI status,
GitHub archives) and the webhook gateway (polling GitHub's refs), so it is stored once
in each of those scopes. A name referenced in two different ways, or not at all, has no
scope to infer: the person says ``--for``.
"""

from __future__ import annotations

from collections.abc import Iterator

from hearth.config import HearthConfig
from hearth_events.jetstream import SECRET_SCOPES
from hearth_servicekit.secrets import SecretError, check_scope

#: Where unscoped secrets from before scopes go when ``hearth.yaml`` references them nowhere:
#: the deployer holds most kinds (SSH keys, HA tokens, repository tokens).
UNREFERENCED_SCOPE = "deployer"

Reference = tuple[str, tuple[str, ...]]  # (field that names it, scopes that read it)


def references(config: HearthConfig) -> Iterator[tuple[str, Reference]]:
    """Every secret name in ``config`` with the field it appears in and its reader scopes."""
    for repo in config.repositories:
        if repo.webhook_secret:
            yield repo.webhook_secret, ("webhook_secret", ("webhook-gw",))
        if repo.token_secret:
            yield repo.token_secret, ("token_secret", ("deployer", "webhook-gw"))
    for target in config.targets:
        yield target.key_secret, ("key_secret", ("deployer",))
        if target.ha_token_secret:
            yield target.ha_token_secret, ("ha_token_secret", ("deployer",))
    for url in config.notifications.default_urls:
        yield url, ("notifications.default_urls", ("notifier",))
    for route in config.notifications.routes:
        for url in route.urls:
            yield url, ("notifications routes' urls", ("notifier",))


def referencing_scopes(config: HearthConfig | None, name: str) -> set[str]:
    """Every scope that reads ``name`` in ``config`` (migration stores it in each)."""
    if config is None:
        return set()
    return {s for found, (_, scopes) in references(config) if found == name for s in scopes}


def infer_scopes(config: HearthConfig | None, name: str, where: str) -> tuple[str, ...]:
    """The scopes ``hearth secret set NAME`` stores into; one line to act on when unclear."""
    found: dict[tuple[str, ...], str] = {}
    if config is not None:
        for other, (field, scopes) in references(config):
            if other == name:
                found.setdefault(scopes, field)
    if not found:
        raise SecretError(
            f"secret {name!r} is not referenced in {where}; say --for {'|'.join(SECRET_SCOPES)}"
        )
    if len(found) > 1:
        uses = " and ".join(f"{field} ({', '.join(s)})" for s, field in found.items())
        both = [s for s in SECRET_SCOPES if any(s in scopes for scopes in found)]
        raise SecretError(
            f"secret {name!r} is referenced as {uses} in {where}; say --for {'|'.join(both)}"
        )
    return next(iter(found))


def chosen_scopes(
    scope: str | None, config: HearthConfig | None, name: str, where: str
) -> tuple[str, ...]:
    return (check_scope(scope),) if scope else infer_scopes(config, name, where)
