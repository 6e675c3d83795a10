"""The aggregates an application last saved itself, kept as private copies for its next
write to start from (see :attr:`.store.HearthApplication.trusts_own_writes`).

A copy is taken when it is kept and again when it is handed out, so no caller ever holds
the kept object: nothing can change it between writes. Thread-safe; least recently used
copies go first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from copy import deepcopy
from typing import Any
from uuid import UUID

KEPT = 2000


class OwnCopies:
    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._copies: OrderedDict[UUID, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, aggregate_id: UUID) -> Any | None:
        with self._lock:
            found = self._copies.get(aggregate_id)
            if found is None:
                return None
            self._copies.move_to_end(aggregate_id)
        return deepcopy(found)  # the kept copy is never changed: safe outside the lock

    def keep(self, aggregates: Iterable[Any]) -> None:
        copies = [(aggregate.id, deepcopy(aggregate)) for aggregate in aggregates]
        with self._lock:
            for aggregate_id, copy in copies:
                self._copies[aggregate_id] = copy
                self._copies.move_to_end(aggregate_id)
            while len(self._copies) > self._kept:
                self._copies.popitem(last=False)

    def drop(self, aggregate_ids: Iterable[UUID]) -> None:
        with self._lock:
            for aggregate_id in aggregate_ids:
                self._copies.pop(aggregate_id, None)

    def __len__(self) -> int:
        return len(self._copies)
