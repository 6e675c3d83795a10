"""How the CLI words the API's refusals: one line, each fact once."""

from __future__ import annotations

from hearth.client import describe

URL = "http://127.0.0.1:8080"


def test_a_role_refusal_says_the_needed_role_once() -> None:
    detail = "POST /api/v1/notifications/test needs the admin role; token 'vera' has viewer"
    line = describe(403, {"error": "forbidden", "detail": detail}, "POST", URL)
    assert line == detail
    assert line.count("needs") == 1
    assert "operator" not in line  # the route's role, not a guess from the method
