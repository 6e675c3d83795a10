"""``hearth up`` from start to stop, as steps that Ctrl-C can end between any two.

SIGINT, SIGTERM and SIGHUP (the terminal closed) only set an event; start-up checks it
between steps and every wait polls it. So an interrupt never lands inside a half-started
process (which would then be nobody's to stop), and whatever started is stopped in one
``finally``: services, NATS, PostgreSQL and the demo's processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hearth.config import HearthConfig
from hearth.stack.choice import ConfigChoice
from hearth.stack.reaper import adopt_orphans, kill_tagged, reap_children, tag_this_run
from hearth.stack.up import (
    Stack,
    StackError,
    UpOptions,
    migrate_secrets,
    preflight,
    record_state,
    start_servers,
    start_services,
    stop_servers,
)

if TYPE_CHECKING:  # the demo imports asyncssh, which a plain hearth.yaml never needs
    from hearth.demo.launch import Demo
    from hearth.stack.report import Reporter


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while Hearth was starting."""


class StopSignal:
    """SIGINT/SIGTERM/SIGHUP set ``event``; nothing is raised from inside a signal handler.

    SIGHUP matters as much as Ctrl-C: a closed terminal (or a dropped SSH session) hangs up
    ``hearth up``, whose servers and services run in their own sessions and would otherwise
    all be left running."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.event.set()

    def check(self) -> None:
        if self.event.is_set():
            raise Interrupted

    def checkpoint(self, step: str, say: Callable[[str], None]) -> None:
        """Between two steps: stop here if asked to. ``HEARTH_TEST_PAUSE_AT=<step>`` holds
        start-up at that step until a signal arrives, so tests interrupt exactly there."""
        if os.environ.get("HEARTH_TEST_PAUSE_AT") == step:
            say(f"paused at {step} (HEARTH_TEST_PAUSE_AT)")
            self.event.wait()
        self.check()

    def sleep(self, seconds: float) -> None:
        if self.event.wait(seconds):
            raise Interrupted


Request = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class Running:
    stack: Stack
    stop: StopSignal
    demo: Demo | None = None


def run_up(
    options: UpOptions, choice: ConfigChoice, config: HearthConfig | None, report: Reporter
) -> None:
    """Start everything, apply the configuration, supervise until stopped; always clean up."""
    stop = StopSignal()
    stop.install()
    adopt_orphans()
    tag = tag_this_run()
    preflight(options)
    report.say(choice.why)
    try:
        with report.step("starting NATS and PostgreSQL…"):
            stack = start_servers(options)
    except StackError:
        if not stop.event.is_set():
            raise
        # Ctrl-C reached initdb or a server as well (same process group): not a failure.
        report.say("stopped before NATS and PostgreSQL were up")
        return
    running = Running(stack, stop)
    try:
        record_state(stack, pid=os.getpid())
        for line in migrate_secrets(stack, config):
            report.say(line)
        stop.checkpoint("servers", report.say)
        _start(running, options, choice, config, report)
        supervise(running, report.say)
    except Interrupted:
        pass
    except Exception as exc:
        if not stop.event.is_set():
            raise
        # The stop was asked for and a step broke meanwhile, most likely because a child
        # process got the terminal's Ctrl-C too: the user asked to stop, so stop, with one
        # line instead of a traceback.
        report.say(f"stopped while starting ({_first_line(exc)})")
    finally:
        # After a hang-up the terminal is gone and printing fails: stopping must go on.
        say = _quietly(report.say)
        say("stopping Hearth…")
        started = time.monotonic()
        stop_servers(stack)
        if running.demo is not None:
            running.demo.stop()
        for pid in reap_children():
            say(f"process {pid} did not stop by itself and was killed")
        for pid, command in kill_tagged(tag):
            say(f"process {pid} ({command[:120]}) outlived its parent and was killed")
        say(f"stopped in {time.monotonic() - started:.1f}s")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def _quietly(say: Callable[[str], None]) -> Callable[[str], None]:
    def said(text: str) -> None:
        with contextlib.suppress(OSError):
            say(text)

    return said


def _start(
    running: Running,
    options: UpOptions,
    choice: ConfigChoice,
    config: HearthConfig | None,
    report: Reporter,
) -> None:
    from hearth.stack.apply_at_start import apply_chosen, demo_token, store_demo_secrets

    stack, stop = running.stack, running.stop
    if choice.demo:
        from hearth.demo.launch import DemoFailed, start_demo

        with report.step("starting the demo (no hearth.yaml here)…"):
            try:
                running.demo = start_demo(options.data_dir, options.port_offset)
            except DemoFailed as failed:
                raise StackError(str(failed)) from None
        stack.other_pids = running.demo.pids()
        stack.extra_env = running.demo.service_env
        record_state(stack, pid=os.getpid())
        stop.checkpoint("demo", report.say)
    with report.step("starting services…"):
        start_services(stack)
        state = record_state(stack, pid=os.getpid())
        ready = wait_ready(state, stop, timeout=60)
    report.summary(state, ready, stack)
    stop.checkpoint("services", report.say)
    if running.demo is not None:
        store_demo_secrets(state, stack, running.demo)
    stop.checkpoint("apply", report.say)
    apply_chosen(state, stack, choice=choice, config=config, demo=running.demo, report=report)
    stop.checkpoint("applied", report.say)
    if running.demo is not None:
        report.demo(running.demo, state, demo_token(state, stack, running.demo))


def wait_ready(state: dict[str, Any], stop: StopSignal, timeout: float) -> dict[str, bool]:
    from hearth.stack.probe import probe

    deadline = time.monotonic() + timeout
    ready = {name: False for name in state["services"]}
    while time.monotonic() < deadline and not all(ready.values()):
        for name, service in state["services"].items():
            if not ready[name]:
                ready[name] = probe(service["url"] + "/readyz")[0] == 200
        stop.sleep(0.3)
    return ready


def supervise(running: Running, say: Callable[[str], None]) -> None:
    from hearth.stack.cluster import NodeKeeper

    stack, stop = running.stack, running.stop
    assert stack.supervisor is not None
    nodes = NodeKeeper(stack.cluster_nodes)
    while not stop.event.wait(0.5):
        events = nodes.check() + stack.supervisor.check()
        for message in events:
            say(message)
        if events:
            record_state(stack, pid=os.getpid())
