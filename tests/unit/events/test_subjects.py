import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearth_events.subjects import (
    SubjectError,
    escape_token,
    event_filter,
    event_subject,
    parse_event_subject,
    provision_task_subject,
    unescape_token,
)


def test_repo_with_dots_is_one_token() -> None:
    subject = event_subject("git", "PushReceived", "me/home.assistant-config")
    assert subject == "hearth.evt.git.PushReceived.me/home%2Eassistant-config"
    assert len(subject.split(".")) == 5


def test_ordinary_names_stay_readable() -> None:
    assert escape_token("garage-pi_01") == "garage-pi_01"
    assert escape_token("shellyplus1pm-a8032ab12345") == "shellyplus1pm-a8032ab12345"


@pytest.mark.parametrize("key", ["a b", "a*b", "a>b", "tab\there", "100%", "ünïcode", "a.b.c"])
def test_wildcards_whitespace_and_percent_are_escaped(key: str) -> None:
    token = escape_token(key)
    assert not any(c in token for c in ".*> \t")
    assert unescape_token(token) == key


@given(st.text(min_size=1))
def test_escaping_round_trips_any_key(key: str) -> None:
    token = escape_token(key)
    assert token and not any(c.isspace() or c in ".*>" for c in token)
    assert unescape_token(token) == key


def test_empty_key_is_refused() -> None:
    with pytest.raises(SubjectError, match="must not be empty"):
        escape_token("")


def test_unknown_context_and_bad_type_are_refused() -> None:
    with pytest.raises(SubjectError, match="unknown event context"):
        event_subject("weather", "RainStarted", "x")
    with pytest.raises(SubjectError, match="PascalCase"):
        event_subject("git", "push.received", "x")


def test_parse_inverts_build() -> None:
    subject = event_subject("device", "DeviceOnline", "shelly.kitchen")
    assert parse_event_subject(subject) == ("device", "DeviceOnline", "shelly.kitchen")
    with pytest.raises(SubjectError):
        parse_event_subject("hearth.cmd.deploy.Deploy")


def test_filters_match_the_nats_cli_examples() -> None:
    assert event_filter("deploy") == "hearth.evt.deploy.*.>"
    assert event_filter("*", "DeploymentFailed") == "hearth.evt.*.DeploymentFailed.>"
    assert event_filter("git", "PushReceived", "a.b") == "hearth.evt.git.PushReceived.a%2Eb"
    assert provision_task_subject("garage") == "hearth.task.provision.garage"
