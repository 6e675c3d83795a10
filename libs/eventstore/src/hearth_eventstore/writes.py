"""An application's writes, called from asyncio: one at a time, and the ones that queue
up meanwhile saved together.

eventsourcing is synchronous, so every call runs in a worker thread, and it saves each
call in its own transaction: a commit, under the table lock every insert takes. A service
whose tasks write at once (twenty deployments of one push, an apply to a thousand devices)
waited for those commits one after another. :meth:`Writes.batched` queues a call; the
calls that queued while the previous batch ran go together through
:meth:`HearthApplication.run_batch`: in one thread, in order, each seeing what the earlier
ones changed, saved in one transaction. A call that raises sends its batch back to one
transaction per call, so each caller still gets its own result or exception; a conflict
with another instance (``IntegrityError``) runs the calls again on what it stored.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing.persistence import IntegrityError

from hearth_eventstore.store import BatchRefused, HearthApplication

T = TypeVar("T")

#: At most this many calls share one transaction.
BATCH = 256
CONFLICT_RETRIES = 5

_Queued = tuple[Callable[[], Any], "asyncio.Future[Any]"]


class Writes:
    def __init__(self, app: HearthApplication, *, batch: int = BATCH, name: str = "writes") -> None:
        self.app = app
        self._batch = batch
        self._name = name
        self._lock = asyncio.Lock()
        self._queued: list[_Queued] = []
        self._drainer: asyncio.Task[None] | None = None

    async def alone(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one write in its own transaction, after the writes before it."""
        async with self._lock:
            return await self._retried(functools.partial(call, *args, **kwargs))

    async def batched(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one write, in the transaction of the writes that queue up with it."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.append((functools.partial(call, *args, **kwargs), future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name=self._name)
        result: T = await future
        return result

    async def _retried(self, call: Callable[[], T]) -> T:
        for attempt in range(CONFLICT_RETRIES):
            try:
                return await asyncio.to_thread(call)
            except IntegrityError:
                # Another instance saved the same aggregate first: read it again.
                if attempt == CONFLICT_RETRIES - 1:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _drain(self) -> None:
        """Run what queued, a batch at a time, until nothing is left. A caller cancelled
        before its batch began is left out (its call never runs, as before)."""
        batch: list[_Queued] = []
        try:
            async with self._lock:
                while self._queued:
                    batch = self._queued[: self._batch]
                    self._queued = self._queued[self._batch :]
                    batch = [item for item in batch if not item[1].done()]
                    if batch:
                        await self._run(batch)
        except asyncio.CancelledError:
            for _, future in (*batch, *self._queued):
                future.cancel()
            self._queued = []
            raise

    async def _run(self, batch: list[_Queued]) -> None:
        if len(batch) > 1:
            calls = [call for call, _ in batch]
            try:
                results = await self._retried(functools.partial(self.app.run_batch, calls))
            except BatchRefused:
                pass  # one at a time below: each gets its own answer
            except Exception as exc:
                for _, future in batch:
                    _settle(future, exception=exc)
                return
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    _settle(future, result)
                return
        for call, future in batch:
            try:
                _settle(future, await self._retried(functools.partial(self.app.run_one, call)))
            except Exception as exc:
                _settle(future, exception=exc)


def _settle(
    future: asyncio.Future[Any], result: Any = None, *, exception: Exception | None = None
) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)
