"""A push that feeds several targets queues all of them together."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hearth_deployer.adapters.store import Queued
from hearth_deployer.domain import TargetLine
from hearth_deployer.handlers import DeployerHandlers
from hearth_events import new_event
from hearth_events.catalogue import DeployRequested, RepositorySpec
from tests.unit.deployer.test_queue_and_matching import push, spec

NAMES = ("a", "b", "c", "d")


class App:
    def targets(self) -> list[Any]:
        return [spec(name=name) for name in NAMES]

    def queue_deployment(self, *args: Any, **kwargs: Any) -> Queued:
        raise AssertionError("the store's write is faked")


class BarrierStore:
    """Each write returns only once every target's write is waiting: queued one after
    another (each awaited before the next began), the first would wait forever."""

    def __init__(self, expected: int, fail: str | None = None) -> None:
        self.app = App()
        self.pending: list[str] = []
        self.all_waiting = asyncio.Event()
        self.expected = expected
        self.fail = fail

    async def read(self, call: Any, *args: Any) -> Any:
        return call(*args)

    async def write(self, call: Any, deployment_id: str, target: str, **kwargs: Any) -> Queued:
        self.pending.append(target)
        if len(self.pending) == self.expected:
            self.all_waiting.set()
        await self.all_waiting.wait()
        if target == self.fail:
            raise RuntimeError(f"the store refused {target}")
        return Queued(created=True, line=TargetLine(target))


class Kicks:
    def __init__(self) -> None:
        self.kicked: list[str] = []
        self.lines: dict[str, TargetLine | None] = {}

    async def kick(self, target: str, line: TargetLine | None = None) -> None:
        self.kicked.append(target)
        self.lines[target] = line


def handlers(store: BarrierStore, kicks: Kicks) -> DeployerHandlers:
    repo = RepositorySpec(name="alice/home", url="https://git.example/alice/home.git")
    return DeployerHandlers(store, kicks, lambda name: repo)  # type: ignore[arg-type]


async def test_a_push_queues_every_target_it_feeds_at_once() -> None:
    store, kicks = BarrierStore(len(NAMES)), Kicks()
    data = push()
    await asyncio.wait_for(
        handlers(store, kicks).on_push(data, new_event(data, source="webhook-gw", actor="gh")), 5
    )
    assert store.pending == list(NAMES)  # in the declared order
    assert sorted(kicks.kicked) == list(NAMES)
    # Each kick starts from the line its queueing save left, instead of reading it again.
    assert all(line is not None and line.target == t for t, line in kicks.lines.items())


async def test_one_target_that_cannot_be_queued_fails_the_push_after_the_others() -> None:
    """The error comes back (the message is redelivered, and the targets already queued
    are not queued twice: a push's deployment ids are fixed); no target waits for it."""
    store, kicks = BarrierStore(len(NAMES), fail="b"), Kicks()
    data = push()
    with pytest.raises(RuntimeError, match="refused b"):
        await asyncio.wait_for(
            handlers(store, kicks).on_push(data, new_event(data, source="webhook-gw", actor="gh")),
            5,
        )
    assert sorted(kicks.kicked) == ["a", "c", "d"]


@pytest.mark.parametrize(
    ("source", "stored", "queued"),
    [
        ("deployer/other", True, 0),  # relayed from a deployer's store
        ("deployer/other", False, 1),  # the drift timer's request, published
        ("query-api/q1", False, 1),
    ],
)
async def test_a_deployers_own_announcement_back_from_the_bus_is_not_queued_again(
    source: str, stored: bool, queued: int
) -> None:
    """A deployer records DeployRequested in the save that queues the deployment: when it
    comes back from the bus there is nothing to queue (it cost a write per deployment).
    A request announced anywhere else, the drift timer's included, is queued."""
    store, kicks = BarrierStore(1), Kicks()
    data = DeployRequested(deployment_id="d-1", target="a", trigger="manual", repo="alice/home")
    aggregate = "5f0c6c1e-64c4-5b8e-9d8c-4b5a2b1f3c7d" if stored else None
    envelope = new_event(data, source=source, actor="alice", aggregate_id=aggregate)
    await asyncio.wait_for(handlers(store, kicks).on_deploy_requested(data, envelope), 5)
    assert len(store.pending) == queued and len(kicks.kicked) == queued
