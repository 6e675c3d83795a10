"""A service starts only with its own scope's key, and says in one line how to get it."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from hearth_servicekit.secrets import new_secret_key, scope_key, service_box

KEY = new_secret_key()


def test_a_service_takes_its_own_scope_key() -> None:
    box = service_box(SecretStr(scope_key(KEY, "notifier")), "notifier", "notification URLs")
    assert box.scope == "notifier"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (None, "HEARTH_SCOPE_KEY is not set"),
        (SecretStr(scope_key(KEY, "deployer")), "the key of scope deployer, not notifier"),
        (SecretStr(KEY), "not a scope key"),  # the installation key is refused
    ],
)
def test_anything_else_stops_it_with_one_line(given: SecretStr | None, message: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        service_box(given, "notifier", "notification URLs")
    text = str(stopped.value.code)
    assert message in text and "\n" not in text
    assert "hearth secret service-key --for" in text
