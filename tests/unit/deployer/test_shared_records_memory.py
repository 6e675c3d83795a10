"""The SharedRecords contract (tests/contract/shared_records.py) in memory."""

from __future__ import annotations

import pytest

from hearth_deployer.adapters.sharedrecords import MemorySharedRecords
from tests.contract.shared_records import SharedRecordsContract


class TestMemorySharedRecords(SharedRecordsContract):
    @pytest.fixture
    def shared(self) -> MemorySharedRecords:
        return MemorySharedRecords()
