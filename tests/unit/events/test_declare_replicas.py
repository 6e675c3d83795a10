"""HEARTH_STREAM_REPLICAS: how many servers of a NATS cluster store each stream and bucket,
read by the declaration entry point (compose's init step, the Kubernetes init Job)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nats
import nats.js.errors
import pytest

from hearth_events import declare
from hearth_events.jetstream import (
    BUCKETS,
    STREAMS,
    _differs,
    ensure,
    replicated_bucket,
    replicated_stream,
)


def test_the_variable_defaults_to_one_and_refuses_nonsense() -> None:
    assert declare.replicas_from({}) == 1
    assert declare.replicas_from({"HEARTH_STREAM_REPLICAS": " 3 "}) == 3
    for bad in ("0", "6", "three", "-1"):
        with pytest.raises(ValueError, match="HEARTH_STREAM_REPLICAS"):
            declare.replicas_from({"HEARTH_STREAM_REPLICAS": bad})


def test_every_stream_and_bucket_takes_the_replicas() -> None:
    for name in STREAMS:
        assert replicated_stream(name, 3).num_replicas == 3
        assert replicated_stream(name, 3).subjects == STREAMS[name].subjects
    for name in BUCKETS:
        assert replicated_bucket(name, 3).replicas == 3
    # A stream declared on one server is scaled up when the cluster asks for three.
    events = next(iter(STREAMS))
    single = replicated_stream(events, 1)
    assert _differs(single, replicated_stream(events, 3))
    assert not _differs(single, replicated_stream(events, 1))


async def test_the_entry_point_declares_with_the_replicas_it_is_given(
    nats_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    server = nats_factory()
    monkeypatch.setenv("HEARTH_NATS_URL", server.url)
    monkeypatch.delenv("HEARTH_NATS_USER", raising=False)
    monkeypatch.delenv("HEARTH_NATS_PASSWORD", raising=False)
    # One server cannot hold three replicas: the server's refusal proves the value reached it.
    monkeypatch.setenv("HEARTH_STREAM_REPLICAS", "3")
    assert await _main() == 1
    assert "cannot declare" in capsys.readouterr().err
    monkeypatch.setenv("HEARTH_STREAM_REPLICAS", "1")
    assert await _main() == 0
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        for name in STREAMS:
            assert (await js.stream_info(name)).config.num_replicas == 1
        for name in BUCKETS:
            assert (await js.stream_info(f"KV_{name}")).config.num_replicas == 1
        # Declared again for a cluster, the existing buckets are scaled too: one server
        # refuses, which proves the change was asked for.
        for name in BUCKETS:
            with pytest.raises(nats.js.errors.APIError, match="replicas"):
                await ensure(js, buckets=(name,), replicas=3)
    finally:
        await nc.close()


async def _main() -> int:
    """``declare.main`` runs its own event loop: run it in a thread beside the test's."""
    import asyncio

    return await asyncio.to_thread(declare.main)
