"""A broken restart must not hold a target for minutes: per-kind health timeouts."""

from __future__ import annotations

import pytest

from hearth_events.catalogue import TargetSpec

SPEC = {
    "name": "t",
    "host": "pi",
    "user": "hearth",
    "key_secret": "k",
    "remote_path": "/config",
    "repo": "home/config",
}


@pytest.mark.parametrize(("kind", "seconds"), [("homeassistant", 90), ("files", 30)])
def test_the_health_timeout_defaults_by_kind(kind: str, seconds: int) -> None:
    spec = TargetSpec.model_validate({**SPEC, "kind": kind})
    assert spec.health_timeout_s == seconds
    # a stored declaration keeps the value it was registered with
    assert TargetSpec.model_validate(spec.model_dump()) == spec
    assert (
        TargetSpec.model_validate({**SPEC, "kind": kind, "health_timeout_s": 7}).health_timeout_s
        == 7
    )
