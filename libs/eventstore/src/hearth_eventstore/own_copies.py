"""The aggregates an application last saved itself, kept as private copies for its next
write to start from (see :attr:`.store.HearthApplication.own_copies_of`).

A copy is taken when it is kept, and a write that asks for it takes it out: no caller ever
holds a kept object, and nothing can change one between writes. The write saves what it
took and keeps a new copy of it; a write that took a copy and saved nothing leaves none
behind, so the next write reads the store (one copy per write instead of one when kept and
another when handed out: a deep copy of a deployment cost 0.1 ms). Thread-safe; least
recently used copies go first."""

from __future__ import annotations

import pickle
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

    def take(self, aggregate_id: UUID) -> Any | None:
        """The kept copy, which is no longer kept: the caller owns it."""
        with self._lock:
            return self._copies.pop(aggregate_id, None)

    def keep(self, aggregates: Iterable[Any]) -> None:
        copies = [(aggregate.id, private_copy(aggregate)) for aggregate in aggregates]
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


def private_copy(aggregate: Any) -> Any:
    """A deep copy, through pickle: 0.05 ms for a deployment with 400 managed paths, where
    ``copy.deepcopy`` took 0.12. Whatever pickle cannot take (a class defined in a
    function) is deep-copied."""
    try:
        # Loads only the bytes this line just made from our own object: never outside input.
        return pickle.loads(pickle.dumps(aggregate, pickle.HIGHEST_PROTOCOL))  # noqa: S301
    except (pickle.PicklingError, TypeError, AttributeError):
        return deepcopy(aggregate)
