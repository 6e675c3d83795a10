"""The second an uploaded file is stamped with: the upload then knows what the host's
listing shows for it, and no earlier record of the file can match the new file."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from hearth_deployer.adapters.records import HostRecord
from hearth_deployer.remote.port import CheckedTree, FileStat, Known
from hearth_deployer.workflows.steps.hostcheck import HostCheck


def test_a_file_is_stamped_now_or_one_past_every_time_the_host_or_the_record_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1000.7)
    check = HostCheck(cast(Any, object()))
    assert check.stamp("a.yaml") == 1000  # nothing known: now, in whole seconds
    # The host's file was written within this second: one past it, or a record of it
    # (same size, same second) would match the new file.
    stats = {"a.yaml": FileStat(5, 0o644, "1000.2500000000"), "odd": FileStat(1, 0o644, "x")}
    check.checked = CheckedTree({}, stats, [], "")
    assert check.stamp("a.yaml") == 1001
    # A record ahead of the clock (a stamp made twice within a second, a host clock
    # ahead of this one): one past it.
    check._record = HostRecord("/srv", 0.0, {"a.yaml": Known(5, "1005.0000000000", "f" * 64)})
    assert check.stamp("a.yaml") == 1006
    assert check.stamp("b.yaml") == 1000
    assert check.stamp("odd") == 1000  # a time no listing prints is no reason to wait
