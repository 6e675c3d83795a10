"""Host key lines, fingerprints, and the local half of path confinement."""

from __future__ import annotations

import asyncssh
import pytest

from hearth_deployer.remote.confine import check_root, confine, within
from hearth_deployer.remote.errors import PathOutsideRoot
from hearth_deployer.remote.hostkeys import HostKeyCheck, fingerprint, key_line, parse_host_keys

KEY = asyncssh.generate_private_key("ssh-ed25519")
LINE = key_line(KEY)


def test_key_lines_in_every_common_shape_parse_to_the_same_key() -> None:
    for text in (LINE, f"{LINE} root@ha", f"ha.local,192.168.1.5 {LINE}", f"# pinned\n{LINE}\n"):
        [key] = parse_host_keys(text)
        assert key_line(key) == LINE


def test_garbage_is_not_a_key() -> None:
    with pytest.raises(ValueError, match="not a public key line"):
        parse_host_keys("ssh-ed25519 not-base64!")
    with pytest.raises(ValueError, match="not a public key line"):
        parse_host_keys("hello")


def test_fingerprint_is_what_ssh_keygen_prints() -> None:
    assert fingerprint(KEY) == f"ssh-ed25519 {KEY.get_fingerprint('sha256')}"
    assert fingerprint(KEY).split()[1].startswith("SHA256:")


def test_unpinned_keys_are_refused_unless_trusting_on_first_use() -> None:
    strict = HostKeyCheck([], trust_on_first_use=False)
    assert not strict.accept_unpinned(KEY)
    assert strict.presented is KEY and strict.learned is None
    tofu = HostKeyCheck([], trust_on_first_use=True)
    assert tofu.accept_unpinned(KEY) and tofu.learned is KEY
    # A pinned key switches first-use trust off: a changed key is never re-learned.
    pinned = HostKeyCheck([KEY], trust_on_first_use=True)
    assert not pinned.accept_unpinned(asyncssh.generate_private_key("ssh-ed25519"))


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", ".", "a/.."])
def test_escaping_relative_paths_are_refused(path: str) -> None:
    with pytest.raises(PathOutsideRoot):
        confine(path, "/config")


def test_relative_paths_are_normalised() -> None:
    assert confine("./a//b/../c.yaml", "/config") == "a/c.yaml"


@pytest.mark.parametrize("root", ["config", "/", "//", "/a/.."])
def test_roots_must_be_absolute_and_not_slash(root: str) -> None:
    with pytest.raises(PathOutsideRoot):
        check_root(root)


def test_within_compares_whole_components() -> None:
    assert within("/config/a", "/config")
    assert within("/config", "/config")
    assert not within("/configuration", "/config")
