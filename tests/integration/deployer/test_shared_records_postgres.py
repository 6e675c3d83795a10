"""The SharedRecords contract (tests/contract/shared_records.py) on PostgreSQL, in the
deployer's schema, over the event store's own pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hearth_deployer.adapters.sharedrecords import PostgresSharedRecords
from hearth_deployer.adapters.store import SCHEMA, DeployerApplication
from hearth_eventstore.store import open_application
from tests.contract.shared_records import SharedRecordsContract

pytestmark = pytest.mark.integration


class TestPostgresSharedRecords(SharedRecordsContract):
    @pytest.fixture
    def shared(self, database_url: str) -> Iterator[PostgresSharedRecords]:
        app = open_application(DeployerApplication, database_url, SCHEMA)
        try:
            shared = PostgresSharedRecords(app.recorder.datastore, SCHEMA)  # type: ignore[attr-defined]
            shared.create_table()
            shared.create_table()  # a second instance starting: nothing changes
            yield shared
        finally:
            app.close()
