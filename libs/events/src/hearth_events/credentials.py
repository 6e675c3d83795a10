"""Credentials written into a declaration, refused before they can become an event.

A declaration is recorded as an event (``RepositoryRegistered``, ``TargetRegistered``) in a
stream nothing may delete from, and shown to every viewer: a token in it would be
permanent. So a URL carrying credentials is refused wherever one enters the catalogue
(``hearth.yaml``, ``ApplyRepositories``, ``ApplyTargets``):

- an ``http``/``https`` URL with any userinfo (``https://user:TOKEN@host/``, and
  ``https://TOKEN@host/`` too: a bare user name there is how tokens are usually passed);
- any other URL whose userinfo has a password part (``ssh://git:pw@host/``); a user name
  alone (``ssh://git@host/repo``) and scp-style ``git@host:repo`` are fine;
- such a URL anywhere inside a ``post_deploy`` command or a command ``health_check``;
- an address where a secret's *name* belongs (an Apprise URL pasted into a route's
  ``urls`` or ``default_urls``).

Messages name the field, never the value.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from hearth_events.catalogue import RepositorySpec, RouteSpec, TargetSpec

#: Where a problem is (field names and indexes under the declaration) and what it is.
Problem = tuple[tuple[str | int, ...], str]

_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")


def has_credentials(url: str) -> bool:
    """True if ``url`` carries a user name for http(s), or a password for any scheme."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    userinfo, at, _ = parts.netloc.rpartition("@")
    if not at:
        return False
    return parts.scheme.lower() in ("http", "https") or ":" in userinfo


def text_has_credentials(text: str) -> bool:
    """True if a URL with credentials appears anywhere in ``text`` (a shell command)."""
    return any(has_credentials(found.group()) for found in _URL_IN_TEXT.finditer(text))


def repository_problems(spec: RepositorySpec) -> list[Problem]:
    hint = (
        "remove it and keep the token in a secret (`hearth secret set NAME`) named by token_secret"
    )
    return [
        ((field,), f"repository {spec.name}: {field} carries a user name or password; {hint}")
        for field in ("url", "api_url")
        if has_credentials(getattr(spec, field))
    ]


def target_problems(spec: TargetSpec) -> list[Problem]:
    where = f"target {spec.name}"
    never = "it would be recorded in events every viewer reads"
    problems: list[Problem] = []
    if spec.ha_url and has_credentials(spec.ha_url):
        problems.append(
            (
                ("ha_url",),
                f"{where}: ha_url carries a user name or password; remove it and keep the "
                "access token in a secret (`hearth secret set NAME`) named by ha_token_secret",
            )
        )
    if spec.health_check and text_has_credentials(spec.health_check):
        problems.append(
            (
                ("health_check",),
                f"{where}: health_check has a URL with a user name or password; {never} — "
                "check an address that needs none, or run a command that reads the "
                "credential from a file on the host",
            )
        )
    for index, command in enumerate(spec.post_deploy):
        if text_has_credentials(command):
            problems.append(
                (
                    ("post_deploy", index),
                    f"{where}: post_deploy command {index + 1} has a URL with a user name or "
                    f"password; {never} — read the credential from a file on the host instead",
                )
            )
    if "@" in spec.host:
        problems.append(
            (
                ("host",),
                f"{where}: host must be a host name or address; put the login in user: and "
                "the key in the secret named by key_secret",
            )
        )
    return problems


def address_problems(names: tuple[str, ...] | list[str], where: str) -> list[Problem]:
    """An address (``scheme://...`` or ``user@host``) given where secret names belong."""
    return [
        (
            (index,),
            f"{where}: entry {index + 1} is an address, not a secret name; store the Apprise "
            "URL with `hearth secret set NAME` and list NAME",
        )
        for index, name in enumerate(names)
        if "://" in name or "@" in name
    ]


def route_problems(spec: RouteSpec) -> list[Problem]:
    return [
        (("urls", *loc), problem)
        for loc, problem in address_problems(spec.urls, f"route {spec.name}: urls")
    ]
