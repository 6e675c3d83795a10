"""The contract every :class:`SharedRecords` adapter keeps, as one test class.

Subclass it once per adapter and provide the fixture ``shared`` (an empty store).
``tests/integration/deployer/test_shared_records_postgres.py`` runs it on PostgreSQL,
``tests/unit/deployer/test_shared_records_memory.py`` on :class:`MemorySharedRecords`.
"""

from __future__ import annotations

import threading

from hearth_deployer.adapters.sharedrecords import SharedRecords


class SharedRecordsContract:
    def test_nothing_is_shared_for_a_target_at_first(self, shared: SharedRecords) -> None:
        assert shared.load("pi") is None

    def test_the_last_record_shared_for_a_target_is_the_one_read(
        self, shared: SharedRecords
    ) -> None:
        shared.save("pi", "d1", b'{"files": {}}')
        shared.save("nas", "d9", b"\x00\xffbinary")
        assert shared.load("pi") == ("d1", b'{"files": {}}')
        shared.save("pi", "d2", b"{}")
        assert shared.load("pi") == ("d2", b"{}")
        assert shared.load("nas") == ("d9", b"\x00\xffbinary")

    def test_records_shared_from_several_threads_at_once_each_end_whole(
        self, shared: SharedRecords
    ) -> None:
        """Instances share at the same time: each target ends with one whole record."""

        def share(n: int) -> None:
            for round_ in range(5):
                shared.save(f"t{n % 4}", f"d{n}-{round_}", bytes([n]) * 1000)

        threads = [threading.Thread(target=share, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for target in range(4):
            found = shared.load(f"t{target}")
            assert found is not None
            deployment_id, data = found
            n = int(deployment_id[1:].split("-")[0])
            assert n % 4 == target and data == bytes([n]) * 1000
