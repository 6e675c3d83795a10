"""Health: wait until the target answers healthy or its timeout passes
(``HealthCheckPassed`` or ``HealthCheckFailed``), telling the log while it waits."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from hearth_deployer.adapters.homeassistant import HomeAssistantError, Progress
from hearth_deployer.workflows.steps.activate import COMMAND_TIMEOUT_S, ActivateRun, home_assistant
from hearth_deployer.workflows.steps.base import Unhealthy
from hearth_events.catalogue import HealthCheckFailed, HealthCheckPassed, TargetSpec
from hearth_servicekit import get_logger

log = get_logger("hearth.deployer")


class HealthRun(ActivateRun, Protocol):
    """Besides what activation reads: the run's age, and a way to store log lines now."""

    def elapsed_ms(self) -> int: ...

    async def flush_log(self) -> None: ...


def health_name(spec: TargetSpec) -> str:
    if spec.health_check:
        return spec.health_check
    return "Home Assistant API" if spec.kind == "homeassistant" else "none"


def passed(run: HealthRun, duration_ms: int) -> HealthCheckPassed:
    """The passed check, logged; the run records it with its success
    (``DeploymentRun.succeed``)."""
    run.log(f"healthy after {duration_ms} ms", step="health_check")
    return HealthCheckPassed(**run.ids(), check=health_name(run.spec), duration_ms=duration_ms)


async def record_unhealthy(run: HealthRun, failure: Unhealthy) -> None:
    run.log(f"unhealthy: {failure.detail}", step="health_check", level="error")
    await run.write(
        run.app.health_checked,
        HealthCheckFailed(
            **run.ids(), check=failure.check, detail=failure.detail, duration_ms=run.elapsed_ms()
        ),
    )


async def wait_healthy(run: HealthRun, *, after_restart: bool) -> int:
    """Milliseconds until healthy; raises Unhealthy at the target's timeout."""
    started = time.monotonic()
    spec, timing = run.spec, run.ctx.timing
    timeout = float(spec.health_timeout_s)
    if spec.kind == "homeassistant":
        ha = await home_assistant(run)
        try:
            await ha.wait_running(
                timeout,
                after_restart=after_restart,
                settle_s=timing.restart_settle_s,
                interval_s=timing.health_interval_s,
                progress_every_s=timing.progress_interval_s,
                on_progress=_progress(
                    run, "Home Assistant to answer GET /api/config with state RUNNING"
                ),
            )
        except HomeAssistantError as exc:
            raise Unhealthy("Home Assistant API", str(exc)) from None
    check = spec.health_check
    if check:
        remaining = max(timeout - (time.monotonic() - started), timing.health_interval_s)
        await _poll_check(run, check, remaining)
    return int((time.monotonic() - started) * 1000)


def _progress(run: HealthRun, what: str) -> Progress:
    """Record a "still waiting" line at once: a person watching sees the wait."""

    async def tell(attempt: int, answer: str) -> None:
        line = f"waiting for {what}: attempt {attempt}, last answer: {answer}"
        run.log(line, step="health_check")
        log.info("waiting for health", target=run.spec.name, detail=line)
        await run.flush_log()

    return tell


async def _poll_check(run: HealthRun, check: str, timeout: float) -> None:
    timing = run.ctx.timing
    deadline = time.monotonic() + timeout
    progress = _progress(run, f"the health check {check} to pass")
    attempt, told = 0, time.monotonic()
    while True:
        attempt += 1
        why = await _check_once(run, check) or ""
        if not why:
            return
        if time.monotonic() >= deadline:
            raise Unhealthy(
                check, f"still failing after {timeout:.0f}s ({attempt} attempts): {why}"
            )
        if time.monotonic() - told >= timing.progress_interval_s:
            told = time.monotonic()
            await progress(attempt, why)
        await asyncio.sleep(timing.health_interval_s)


async def _check_once(run: HealthRun, check: str) -> str | None:
    if check.startswith(("http://", "https://")):
        return await run.ctx.http_check(check)
    host = await run.host()
    try:
        result = await host.run(check, COMMAND_TIMEOUT_S, cwd=run.spec.remote_path)
    except Exception as exc:
        return str(exc)
    if result.ok:
        return None
    return f"exit {result.exit_status}: {(result.stderr or result.stdout).strip()[-300:]}"
