"""The secrets of one scope, held in memory and kept current from the bucket.

A hot path (every webhook is checked against every webhook secret) must not ask the bucket
for each value on each request. :class:`WatchedSecrets` answers :meth:`get` from memory
while its view of the scope is *current*, and from the bucket (as :class:`SecretStore`
does) otherwise, so a lost view is slower, never stale:

- a push consumer on ``KV_hearth_secrets``, filtered to ``$KV.hearth_secrets.<scope>.>`` and
  created through the subject that names that filter (the only consumer a service may
  create on the bucket; the server refuses a body whose filter differs), delivers the last
  value of every key of the scope and then every change, to the service's own inbox;
- the view is current once everything pending at creation has arrived, and stops being
  current on a gap in the consumer's sequence, a heartbeat that says a message was missed,
  no heartbeat for three intervals, or any reconnect of the client; it is then rebuilt.

A value that does not decrypt raises the same :class:`SecretError` as the store would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.nuid import NUID

from hearth_events.jetstream import SECRETS_BUCKET
from hearth_servicekit.logging import get_logger
from hearth_servicekit.redaction import remember
from hearth_servicekit.secrets import SecretBox, SecretError, SecretStore

log = get_logger("hearth.secrets")

_REMOVED = ("DEL", "PURGE")
HEARTBEAT_S = 5.0


class WatchedSecrets:
    """``get`` like :class:`SecretStore`, from memory while the watch is current.

    ``generation`` changes whenever a value may have changed (an update, or the view being
    rebuilt), so a caller may cache what it derives from the values under it.
    """

    def __init__(
        self, nc: Any, js: Any, box: SecretBox, *, heartbeat_s: float = HEARTBEAT_S
    ) -> None:
        self._nc = nc
        self._js = js
        self._box = box
        self._store = SecretStore(js, box)
        self._heartbeat_s = heartbeat_s
        self._values: dict[str, bytes | str] = {}  # a str says why it does not decrypt
        self._ready = False
        self._reconnects = -1
        self._last_seq = 0
        self._seen = 0.0
        self._broken = asyncio.Event()
        self._subscription: Any = None
        self.generation = 0
        self.changed = asyncio.Event()  # set on every change; tests and callers may clear it

    @property
    def store(self) -> SecretStore:
        return self._store

    @property
    def current(self) -> bool:
        return (
            self._ready
            and self._nc.is_connected
            and self._nc.stats["reconnects"] == self._reconnects
        )

    async def get(self, name: str) -> bytes | None:
        if not self.current:
            return await self._store.get(name)
        value = self._values.get(name)
        if isinstance(value, str):
            raise SecretError(value)
        return value

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the view current until ``stop``; rebuild it whenever it is lost."""
        while not stop.is_set():
            try:
                await self._watch()
                await self._until_lost(stop)
            except Exception as exc:
                log.warning(
                    "watching the secrets failed; reading them from the bucket meanwhile",
                    scope=self._box.scope,
                    error=str(exc) or type(exc).__name__,
                )
            finally:
                await self._drop()
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

    async def _watch(self) -> None:
        self._values, self._last_seq, self._ready = {}, 0, False
        self._broken.clear()
        self._reconnects = self._nc.stats["reconnects"]
        self._seen = time.monotonic()
        inbox = self._nc.new_inbox()
        self._subscription = await self._nc.subscribe(inbox, cb=self._on_message)
        config = ConsumerConfig(
            name=NUID().next().decode(),
            deliver_subject=inbox,
            filter_subject=f"$KV.{SECRETS_BUCKET}.{self._box.scope}.>",
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            ack_policy=AckPolicy.NONE,
            idle_heartbeat=self._heartbeat_s,
            inactive_threshold=max(60.0, self._heartbeat_s * 6),
            mem_storage=True,
            num_replicas=1,
        )
        info = await self._js.add_consumer(f"KV_{SECRETS_BUCKET}", config=config)
        if info.num_pending == 0 and info.delivered.consumer_seq == 0:
            self._became_current()

    async def _until_lost(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and not self._broken.is_set():
            if self._reconnects != self._nc.stats["reconnects"]:
                return
            if time.monotonic() - self._seen > 3 * self._heartbeat_s:
                log.warning("secrets watch went quiet; rebuilding it", scope=self._box.scope)
                return
            waiting = [asyncio.ensure_future(e.wait()) for e in (self._broken, stop)]
            await asyncio.wait(waiting, timeout=self._heartbeat_s, return_when="FIRST_COMPLETED")
            for waiter in waiting:
                waiter.cancel()

    async def _drop(self) -> None:
        self._ready = False
        self._bump()
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _on_message(self, msg: Any) -> None:
        self._seen = time.monotonic()
        headers = msg.headers or {}
        if not msg.data and headers.get("Status") == "100":  # idle heartbeat
            last = headers.get("Nats-Last-Consumer")
            if last is not None and int(last) != self._last_seq:
                self._lost("a heartbeat says a change was missed")
            return
        meta = msg.metadata
        if meta.sequence.consumer != self._last_seq + 1:
            self._lost("a change arrived out of sequence")
            return
        self._last_seq = meta.sequence.consumer
        self._apply(msg.subject, msg.data, headers)
        if meta.num_pending == 0:
            self._became_current()

    def _apply(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        name = subject.removeprefix(f"$KV.{SECRETS_BUCKET}.{self._box.scope}.")
        if headers.get("KV-Operation") in _REMOVED or "Nats-Marker-Reason" in headers:
            self._values.pop(name, None)
        else:
            try:
                self._values[name] = remember(self._box.open(name, data))
            except SecretError as exc:
                self._values[name] = str(exc)
        self._bump()

    def _became_current(self) -> None:
        if not self._ready:
            self._ready = True
            self._bump()

    def _lost(self, why: str) -> None:
        log.warning("secrets watch lost its place; rebuilding it", scope=self._box.scope, why=why)
        self._ready = False
        self._bump()
        self._broken.set()

    def _bump(self) -> None:
        self.generation += 1
        self.changed.set()
