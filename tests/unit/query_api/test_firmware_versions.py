"""One form for a firmware version in the read models, from every form devices use."""

from __future__ import annotations

import pytest

from hearth_query_api.domain.firmware import version_of


@pytest.mark.parametrize(
    ("given", "version"),
    [
        ("1.4.4", "1.4.4"),  # Gen2+ ver
        ("20241011-114455/1.4.4-g6d2a586", "1.4.4"),  # Gen2+ fw_id
        ("20231107-164738/1.0.8-g8c7bb8d", "1.0.8"),
        ("20240223-141904/1.2.2-beta2-g1234567", "1.2.2-beta2"),  # a beta keeps its tag
        ("1.5.0-beta1", "1.5.0-beta1"),
        ("20230913-112003/v1.14.0-gcb84623", "1.14.0"),  # Gen1 fw
        ("20221027-091427/v1.12.1-ga9117d3", "1.12.1"),
        ("v1.14.0", "1.14.0"),
        ("20210115-103659/v1.9.4@e2732e05", "1.9.4"),  # an older Gen1 build
        ("custom build 7", "custom build 7"),  # no known form: kept
        ("", ""),
        (None, None),
    ],
)
def test_every_form_gives_the_version(given: str | None, version: str | None) -> None:
    assert version_of(given) == version
