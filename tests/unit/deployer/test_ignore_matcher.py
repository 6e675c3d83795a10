"""The compiled ignore matcher means exactly what the patterns say one by one: a
``dir/`` tree (literal, anywhere when it has no slash), a glob on the whole path, a glob
on the name. Compared with the pattern-by-pattern reference on generated paths."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import PurePosixPath

from hypothesis import given, settings
from hypothesis import strategies as st

from hearth_deployer.domain.paths import is_ignored
from hearth_deployer.domain.target_spec import HOMEASSISTANT_IGNORES


def reference(path: str, patterns: Iterable[str]) -> bool:
    """What the patterns mean, one by one, as ``is_ignored`` read them before it compiled them."""
    for pattern in patterns:
        if pattern.endswith("/"):
            prefix = pattern.rstrip("/")
            if (
                path == prefix
                or path.startswith(prefix + "/")
                or ("/" not in prefix and f"/{prefix}/" in f"/{path}")
            ):
                return True
        elif "/" in pattern:
            if fnmatch.fnmatchcase(path, pattern):
                return True
        elif fnmatch.fnmatchcase(PurePosixPath(path).name, pattern):
            return True
    return False


PARTS = st.sampled_from(
    [
        "a",
        "b",
        ".storage",
        "deps",
        "x.db",
        "x.db-wal",
        "home-assistant_v2.db",
        "[x]",
        "*",
        "",
        ".",
        "..",
    ]
)
PATHS = st.lists(PARTS, min_size=1, max_size=4).map("/".join)
PATTERNS = st.lists(
    st.one_of(
        st.sampled_from(HOMEASSISTANT_IGNORES),
        st.sampled_from(["a/", "a/b/", "/", "*/b", "a/*", "[ab]", "?", "*.db*", "[!a]*", "b//"]),
        PATHS,
        PATHS.map(lambda p: p + "/"),
    ),
    max_size=5,
).map(tuple)


@settings(max_examples=3000, deadline=None)
@given(PATHS, PATTERNS)
def test_the_compiled_matcher_equals_the_patterns_one_by_one(
    path: str, patterns: tuple[str, ...]
) -> None:
    assert is_ignored(path, patterns) is reference(path, patterns)


def test_home_assistant_state_is_ignored_anywhere_and_configuration_is_not() -> None:
    for path in (
        ".storage/core.config",
        "x/deps/lib.py",
        "home-assistant_v2.db-wal",
        ".HA_VERSION",
    ):
        assert is_ignored(path, HOMEASSISTANT_IGNORES)
    for path in ("configuration.yaml", "storage/x", "a.storage/x", "x/deps", "x/.HA_VERSION.bak"):
        assert not is_ignored(path, HOMEASSISTANT_IGNORES)
