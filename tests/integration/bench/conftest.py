"""What every benchmark's smoke test also checks."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def leaves_no_scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A benchmark removes every scratch folder it made (its NATS and PostgreSQL data run
    to hundreds of MB, and people run the benchmarks again and again)."""
    scratch = tmp_path_factory.mktemp("bench-scratch")
    before, tempfile.tempdir = tempfile.tempdir, str(scratch)
    try:
        yield
    finally:
        tempfile.tempdir = before
    left = sorted(path.name for path in scratch.iterdir())
    assert not left, f"the benchmark left {left} in the temp folder"
