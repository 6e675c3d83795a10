"""A URL with credentials never becomes part of a declaration (and so of an event)."""

from __future__ import annotations

import pytest

from hearth_events.catalogue import RepositorySpec, TargetSpec
from hearth_events.credentials import (
    has_credentials,
    repository_problems,
    route_problems,
    target_problems,
    text_has_credentials,
)


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://user:TOKEN@github.com/a/b.git", True),
        ("https://TOKEN@github.com/a/b.git", True),
        ("http://admin:pw@ha.local:8123", True),
        ("ssh://git:pw@host/repo.git", True),
        ("ssh://git@host/repo.git", False),
        ("git@github.com:a/b.git", False),
        ("https://github.com/a/b.git", False),
        ("file:///srv/git/home.git", False),
    ],
)
def test_urls_with_credentials_are_recognised(url: str, refused: bool) -> None:
    assert has_credentials(url) is refused


def test_a_url_with_credentials_inside_a_command_is_recognised() -> None:
    assert text_has_credentials("curl -fsS 'https://u:secret@hooks.local/x' && true")
    assert not text_has_credentials("curl -fsS https://hooks.local/x; git pull git@h:r")


def test_messages_name_the_field_and_never_the_value() -> None:
    repo = RepositorySpec(name="a/b", url="https://u:CANARY1@github.com/a/b.git")
    [(loc, message)] = repository_problems(repo)
    assert loc == ("url",)
    assert "token_secret" in message and "CANARY1" not in message
    target = TargetSpec(
        name="ha",
        kind="homeassistant",
        host="ha.local",
        user="root",
        key_secret="k",
        remote_path="/config",
        repo="a/b",
        ha_url="http://u:CANARY2@ha.local:8123",
        health_check="curl https://u:CANARY3@ha.local/",
        post_deploy=("true", "curl https://u:CANARY4@x/"),
    )
    problems = target_problems(target)
    assert [loc for loc, _ in problems] == [("ha_url",), ("health_check",), ("post_deploy", 1)]
    assert "ha_token_secret" in problems[0][1]
    assert not any("CANARY" in message for _, message in problems)


def test_an_apprise_url_where_a_secret_name_belongs_is_refused_without_echoing_it() -> None:
    from hearth_events.catalogue import RouteSpec

    route = RouteSpec(name="ops", events=("*",), urls=("ops-discord", "discord://1/CANARY5"))
    [(loc, message)] = route_problems(route)
    assert loc == ("urls", 1)
    assert "hearth secret set" in message and "CANARY5" not in message
