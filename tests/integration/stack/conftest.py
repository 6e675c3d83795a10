from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import Up


@pytest.fixture
def runs() -> Iterator[list[Up]]:
    """The ``hearth up`` runs a test started; any still running gets Ctrl-C at the end."""
    started: list[Up] = []
    yield started
    for run in started:
        if run.process.poll() is None:
            run.ctrl_c()
