"""A scope's secrets held in memory stay equal to the bucket: every put, rotation and
removal reaches them without a restart, and a lost watch reads the bucket instead."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_events.jetstream import SECRETS_BUCKET, ensure
from hearth_servicekit.secret_watch import WatchedSecrets
from hearth_servicekit.secrets import SecretBox, SecretError, SecretStore, new_secret_key

pytestmark = pytest.mark.integration

KEY = new_secret_key()


class Watching:
    def __init__(self, nc: Any, watch: WatchedSecrets, stop: asyncio.Event) -> None:
        self.nc, self.watch, self.stop = nc, watch, stop

    async def until(self, condition: Callable[[], Any], timeout: float = 20.0) -> None:
        """Wait for ``condition`` (sync or async), re-checking on every change of the view
        and at least every half second (a reconnect changes nothing in the view)."""
        async with asyncio.timeout(timeout):
            while True:
                self.watch.changed.clear()
                result = condition()
                if asyncio.iscoroutine(result):
                    result = await result
                if result:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.watch.changed.wait(), 0.5)


def store(js: Any, key: str = KEY) -> SecretStore:
    return SecretStore(js, SecretBox.for_scope(key, "webhook-gw"))


@pytest.fixture
async def server(nats_factory: Callable[..., EmbeddedNats]) -> EmbeddedNats:
    return nats_factory()


@pytest.fixture
async def watching(server: EmbeddedNats) -> AsyncIterator[Watching]:
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    await ensure(js, buckets=(SECRETS_BUCKET,))
    await store(js).put("before", b"stored-before-the-watch")
    watch = WatchedSecrets(nc, js, SecretBox.for_scope(KEY, "webhook-gw"), heartbeat_s=0.5)
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    yield Watching(nc, watch, stop)
    stop.set()
    await task
    await nc.close()


async def refuse_bucket_reads(name: str) -> bytes | None:
    raise AssertionError(f"{name} was read from the bucket, not from memory")


async def test_puts_rotations_and_removals_reach_memory_without_a_restart(
    watching: Watching, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch, js = watching.watch, watching.nc.jetstream()
    await watching.until(lambda: watch.current)
    monkeypatch.setattr(watch.store, "get", refuse_bucket_reads)
    assert await watch.get("before") == b"stored-before-the-watch"
    assert await watch.get("never-stored") is None

    writer = store(js)
    await writer.put("hook", b"first-webhook-secret")
    await watching.until(lambda: watch.get("hook"))
    assert await watch.get("hook") == b"first-webhook-secret"
    await writer.put("hook", b"rotated-webhook-secret")
    await watching.until(async_equals(watch, "hook", b"rotated-webhook-secret"))
    await writer.delete("hook")
    await watching.until(async_equals(watch, "hook", None))

    # Another scope's secret under the same name is not this scope's.
    await SecretStore(js, SecretBox.for_scope(KEY, "deployer")).put("hook", b"deployer-value")
    await writer.put("marker", b"after-the-other-scope")
    await watching.until(lambda: watch.get("marker"))
    assert await watch.get("hook") is None


async def test_a_value_that_does_not_decrypt_says_so_as_the_store_does(
    watching: Watching,
) -> None:
    watch, js = watching.watch, watching.nc.jetstream()
    await store(js, new_secret_key()).put("foreign", b"sealed-with-another-key")
    await watching.until(lambda: watch.current)
    with pytest.raises(SecretError, match="another installation key"):
        await watching.until(lambda: watch.get("foreign"))


async def test_a_server_restart_falls_back_to_the_bucket_then_watches_again(
    watching: Watching, server: EmbeddedNats
) -> None:
    watch = watching.watch
    await watching.until(lambda: watch.current)
    before = watch.generation
    server.stop()
    await watching.until(lambda: not watch.current)
    server.start()
    await watching.until(lambda: connected(watching) and watch.current)
    assert watch.generation > before
    # The new consumer delivers what was stored while the watch was down.
    await store(watching.nc.jetstream()).put("while-away", b"put-after-the-restart")
    await watching.until(async_equals(watch, "while-away", b"put-after-the-restart"))


def connected(watching: Watching) -> bool:
    return bool(watching.nc.is_connected)


def async_equals(watch: WatchedSecrets, name: str, value: bytes | None) -> Callable[[], Any]:
    async def check() -> bool:
        return await watch.get(name) == value

    return check
