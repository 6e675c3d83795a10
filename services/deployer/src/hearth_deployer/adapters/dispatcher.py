"""Runs each target's deployments one at a time, under the target's lease.

Whatever this instance knows of (a new request, the end of a run, a periodic sweep), it
"kicks" the target: if the target has an active deployment nobody runs (its holder died)
or a waiting one and no active one, this instance takes the lease and runs it. So after a
crash every non-terminal deployment is resumed or compensated, by this instance after a
restart or by another one once the dead holder's lease lapsed.

A waiting deployment whose secrets are missing is held before it begins
(``DeploymentWaiting``) and looked at again whenever the secrets watch sees a change (and
every ``secret_recheck_s`` besides), so it begins as soon as the last secret is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from hearth_deployer.adapters.lease import LeaseBusy, LeaseLost, LeaseTiming, TargetLease
from hearth_deployer.domain import Deployment, TargetLine
from hearth_deployer.domain.waiting import missing_secrets, waiting_text
from hearth_deployer.workflows.context import DeployContext
from hearth_deployer.workflows.deployment import DeploymentRun
from hearth_events.catalogue import DeploymentFailed, DeploymentWaiting, TargetSpec
from hearth_eventstore.store import Meta
from hearth_servicekit import get_logger

log = get_logger("hearth.dispatcher")
SWEEP_EVERY_S = 15.0


def run_meta(deployment: Deployment, actor: str) -> Meta:
    """Events of a run correlate with the request that started it."""
    return Meta(
        actor=actor,
        correlation_id=deployment.request.get("correlation_id"),
        causation_id=deployment.request.get("causation_id"),
    )


@dataclass
class Seen:
    """What :meth:`Dispatcher.kick` read moments before a run, so the run does not read it
    again: the target's line (its ``managed`` files change only when a run on this target
    ends, and this run holds the target's lease), the target's declaration, the deployment
    as its ``begin_next`` left it. None where kick did not read it."""

    line: TargetLine
    spec: TargetSpec | None = None
    deployment: Deployment | None = None


class Dispatcher:
    def __init__(
        self, ctx: DeployContext, locks: Any, owner: str, lease_timing: LeaseTiming | None = None
    ) -> None:
        self.ctx = ctx
        self.locks = locks
        self.owner = owner
        self.lease_timing = lease_timing or LeaseTiming()
        self.running: dict[str, asyncio.Task[None]] = {}
        #: Targets whose next deployment waits for a secret.
        self.held: set[str] = set()
        self._kicking: dict[str, asyncio.Lock] = {}
        self.idle = asyncio.Event()
        self.idle.set()

    @property
    def store(self) -> Any:
        return self.ctx.store

    async def kick(self, target: str, line: TargetLine | None = None) -> None:
        """Run the target's active or waiting deployment if nobody does. ``line``: the
        target's line as a write of this instance just left it, instead of reading it."""
        async with self._kicking.setdefault(target, asyncio.Lock()):
            if target in self.running:
                return
            if line is None:
                line = await self.store.read(self.store.app.line, target)
            deployment_id = line.active or line.waiting
            self.held.discard(target)
            if deployment_id is None:
                return
            seen = Seen(line)
            if line.active is None and await self._hold_for_secrets(seen, deployment_id):
                self.held.add(target)
                return
            lease = self._lease(target, deployment_id)
            try:
                await lease.acquire(take_over_own=True)
            except LeaseBusy:
                return  # another instance runs it; the sweep looks again
            if line.active is None:
                began = await self.store.write(self.store.app.begin_next, target)
                if began is None or began.deployment_id != deployment_id:
                    await lease.release()
                    return
                seen.deployment = began
            self.idle.clear()
            task = asyncio.create_task(self._run(target, deployment_id, lease, seen))
            self.running[target] = task

    def _lease(self, target: str, deployment_id: str) -> TargetLease:
        return TargetLease(self.locks, target, deployment_id, self.owner, timing=self.lease_timing)

    async def _hold_for_secrets(self, seen: Seen, deployment_id: str) -> bool:
        """Whether the waiting deployment must wait for secrets; records it when what it
        waits for changed (once, not at every look)."""
        target = seen.line.target
        spec = seen.spec = await self.store.read(self.store.app.target, target)
        if spec is None:
            return False  # the run fails it: the target is no longer declared
        try:
            missing = await missing_secrets(self.ctx.secrets, spec, self.ctx.repository)
        except Exception:  # unreadable, not missing: the run reports it
            log.exception("cannot look up the secrets of a deployment", target=target)
            return False
        if not missing:
            return False
        deployment: Deployment | None = await self.store.read(
            self.store.app.deployment, deployment_id
        )
        if deployment is None or deployment.waiting_for == tuple(missing):
            return True
        lease = self._lease(target, deployment_id)
        try:
            await lease.acquire(take_over_own=True)
        except LeaseBusy:
            return True  # another instance records it
        try:
            waiting = DeploymentWaiting(
                deployment_id=deployment_id,
                target=target,
                waiting_for=tuple(missing),
                reason=waiting_text(missing),
            )
            meta = run_meta(deployment, self.ctx.source_name.split("/")[0])
            await self.store.write(self.store.app.wait, deployment_id, waiting, meta=meta)
        finally:
            await lease.release()
        log.warning(
            "deployment waits for secrets",
            target=target,
            deployment_id=deployment_id,
            missing=sorted(missing),  # names only
        )
        return True

    async def recheck_held_forever(
        self, stop: asyncio.Event, secrets_changed: asyncio.Event | None = None
    ) -> None:
        """Begin held deployments as soon as their secrets exist: every
        ``secret_recheck_s``, and at once when ``secrets_changed`` (the secrets watch's
        event, set on every change it sees) says a secret was stored."""
        while not stop.is_set():
            if secrets_changed is not None:
                secrets_changed.clear()
            for target in sorted(self.held):
                try:
                    await self.kick(target)
                except Exception:
                    log.exception("looking for a held deployment's secrets failed")
            wakes = [stop] if secrets_changed is None else [stop, secrets_changed]
            waiting = [asyncio.ensure_future(event.wait()) for event in wakes]
            try:
                await asyncio.wait(
                    waiting,
                    timeout=self.ctx.timing.secret_recheck_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for waiter in waiting:
                    waiter.cancel()

    async def _run(self, target: str, deployment_id: str, lease: TargetLease, seen: Seen) -> None:
        line: TargetLine | None = None
        try:
            line = await lease.guard(self._carry(target, deployment_id, lease, seen))
        except LeaseLost:
            # The run was stopped where it stood; whoever takes the lease next resumes it
            # (and so finishes or compensates what this run began).
            log.warning(
                "lease lost: stopped the deployment; its next holder finishes or compensates it",
                target=target,
                deployment_id=deployment_id,
                stopped_at=lease.step,
                reason=lease.lost_reason,
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("deployment run stopped; it resumes at the next sweep", target=target)
        finally:
            await lease.release()
            self.running.pop(target, None)
            if not self.running:
                self.idle.set()
        if line is not None:
            await self.kick(target, line)

    async def _carry(
        self, target: str, deployment_id: str, lease: TargetLease, seen: Seen
    ) -> TargetLine:
        """Carry the deployment to its end; the target's line as its end left it."""
        store = self.store
        deployment = seen.deployment
        if deployment is None:
            deployment = await store.read(store.app.deployment, deployment_id)
        if deployment is None:
            raise LookupError(f"deployment {deployment_id} is queued but not stored")
        actor = self.ctx.source_name.split("/")[0]
        meta = run_meta(deployment, actor)
        if deployment.terminal is None:
            spec = (
                seen.spec if seen.spec is not None else await store.read(store.app.target, target)
            )
            if spec is None:
                deployment = await store.write(
                    store.app.fail,
                    deployment_id,
                    DeploymentFailed(
                        deployment_id=deployment_id,
                        target=target,
                        step="fetch",
                        reason=f"target {target} is no longer declared",
                        host_touched=False,
                    ),
                    meta=meta,
                )
            else:
                run = DeploymentRun(
                    self.ctx,
                    deployment,
                    spec,
                    managed=seen.line.managed,
                    base_commit=seen.line.commit,
                    last_ended=seen.line.last_ended,
                    lease=lease,
                    meta=meta,
                )
                deployment = await run.run()
        assert deployment is not None
        succeeded = deployment.terminal == "DeploymentSucceeded" and not deployment.dry_run
        commit = deployment.commit if succeeded else None
        managed = deployment.managed_after if succeeded else None
        line: TargetLine = await store.write(
            store.app.end_on_line,
            target,
            deployment_id,
            commit=commit,
            managed=managed,
            restored=deployment.restored(),
        )
        log.info(
            "deployment finished",
            target=target,
            deployment_id=deployment_id,
            outcome=deployment.terminal,
        )
        return line

    async def sweep(self) -> None:
        targets = await self.store.read(self.store.app.targets)
        for spec in targets:
            await self.kick(spec.name)

    async def sweep_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SWEEP_EVERY_S)

    async def stop(self) -> None:
        """Stop running deployments where they stand; a restart resumes them."""
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
