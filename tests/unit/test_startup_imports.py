"""A service imports at start only what every installation uses: githubkit (0.4-0.8 s of
CPU) is imported when a GitHub repository is first fetched, polled or reported to.

Eight service processes start at once in `hearth up`; on two cores, or a Raspberry Pi,
each import they all pay stretches the start for everyone (and the timeouts after it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = "import sys, {module}; print(sorted(m for m in sys.modules if m.startswith('githubkit')))"


@pytest.mark.parametrize("module", ["hearth_deployer.bootstrap", "hearth_webhook_gw.bootstrap"])
def test_a_service_starts_without_githubkit(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"
