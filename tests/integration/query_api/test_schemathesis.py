"""Schemathesis against the running API: no 5xx for any generated input, and every
response matches the OpenAPI document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.query_api.conftest import Api

pytestmark = pytest.mark.integration


async def test_generated_requests_never_break_the_api(api: Api, tmp_path: Path) -> None:
    st = Path(sys.executable).parent / "st"
    result = subprocess.run(
        [
            str(st),
            "run",
            f"{api.base}/api/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "30",
            "--seed",
            "20261122",
            "--workers",
            "1",
            "--no-color",
            "-H",
            f"Authorization: Bearer {api.tokens['admin']}",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
