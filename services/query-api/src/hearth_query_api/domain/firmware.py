"""Firmware as people compare it: the version, not the build id.

Devices name their firmware in several forms: a Gen2+ device's ``ver`` (``1.4.4``) and its
``fw_id`` (``20241011-114455/1.4.4-g6d2a586``), a Gen1 device's ``fw``
(``20230913-112003/v1.14.0-gcb84623``) and its update offers in the same form. Events carry
whichever the device gave, so the read models keep one form: the version (``1.4.4``,
``1.14.0``, ``1.5.0-beta1``; older Gen1 builds write ``v1.9.4@e2732e05``), which is what
the dashboard, the CLI and filters show and compare. A string in no known form is kept as
it is.
"""

from __future__ import annotations

import re

_BUILD = re.compile(
    r"""^(?:\d{8}-\d{6}/)?      # the build's date and time, in a build id
        v?                     # Gen1 writes v1.14.0
        (?P<version>\d+\.\d+(?:\.\d+)?(?:-(?!g[0-9a-f]+$)[0-9A-Za-z.]+)*?)
        (?:(?:-g|@)[0-9a-f]+)?$  # the commit the build was made from
    """,
    re.VERBOSE,
)


def version_of(firmware: str | None) -> str | None:
    """``1.4.4`` for ``20241011-114455/1.4.4-g6d2a586``, ``1.14.0`` for
    ``20230913-112003/v1.14.0-gcb84623``; None stays None."""
    if not firmware:
        return firmware
    found = _BUILD.match(firmware.strip())
    return found.group("version") if found else firmware
