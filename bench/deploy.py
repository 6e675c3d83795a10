"""Deployments over real sshd, beside naive ``scp -r`` of the same files in the same run.

- **push to live**: a signed GitHub ``push`` webhook, POSTed to the real webhook-gw process,
  until that push's ``DeploymentSucceeded`` arrives on the bus, for a one-file change (an
  automation) in a Home Assistant configuration of ``files`` files. The target is a
  ``homeassistant`` target: the Home Assistant simulator judges the very files sshd's user
  holds. Repeated ``repeats`` times (the first, full deployment is not counted); p50/p95.
  Baseline: ``scp -r`` of the whole tree over one SSH connection to the same sshd, the
  same number of times.
- **slow link**: the same one-file push to one target whose SSH crosses a link that adds
  ``LINK_RTT_S`` to every round trip (:class:`bench.latency.SlowLink`); the median of three,
  each alternated with a push through the same relay at no added delay, and the round
  trips it waited for from the pairs' differences. Baseline: the SSH work alone
  (``bench/ssh_floor.py``) across the same link.
- **fan-out**: one such push to ``fan_out`` ``files`` targets, each its own sshd, until all
  of them succeeded, beside the same push to one target of a repository of its own (on
  one more sshd), every target past its backup limit (each deployment prunes one, as a
  user's do from the eleventh on); three rounds, each a push to the one target then a
  push to the ``fan_out``, so a machine whose speed drifts within minutes slows both alike: the
  median of each, the slowest in the p95 column; with the bytes Hearth sent beside the
  bytes that changed. Baselines: ``fan_out`` ``scp -r`` of the whole tree in parallel,
  measured once; and the floor, the I/O of one such deployment (its SSH requests, stored
  rows and published events) done with the raw libraries alone (``bench/io_floor.py``),
  to one host and to ``fan_out`` at once.

Hearth's time includes what scp skips: the HMAC check and JetStream ack of the webhook;
the deployer consuming the push and storing the deployment in PostgreSQL; a fetch of the
commit from Git; validation of every file of the tree (Home Assistant's YAML dialect,
includes); the remote manifest (a hash of every file on the target) and the plan and diff;
a verified backup of the touched files; atomic writes (temporary file, fsync, rename);
for Home Assistant its ``check_config`` (the simulator parses the whole tree, as Home
Assistant does), the reload of automations and the health check; and events stored and
relayed to NATS at every step, the last of which stops the clock.

What scp gets that Hearth does not: nothing to decide, nothing to check or record. What
Hearth gets that scp does not: it sends only the changed file, and keeps its SSH
connections open between deployments (scp opens one per copy). Hearth's clock starts at
the webhook, after ``git push``; the deployer and the Home Assistant simulator run in this
process, on this event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import dataclasses
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.io_floor import EVENTS, WRITES, busy_seconds, records_cpu
from bench.io_floor import floor as io_floor
from bench.latency import SlowLink
from bench.ssh_floor import floor as ssh_floor
from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import free_port
from hearth_deployer.domain.target_spec import backup_dir
from hearth_events import Envelope, parse_event
from hearth_events.catalogue import (
    FilesDeployed,
    RepositoryRegistered,
    RepositorySpec,
    TargetSpec,
)
from hearth_events.envelope import HEADER_EVENT_TYPE
from hearth_servicekit.secrets import scope_key
from tests.integration.deployer.harness import TERMINAL, World, files_target, ha_target
from tests.support.git import GitRemote, git, make_remote
from tests.support.github import ZERO, delivery_headers, encode, push_payload
from tests.support.ha_sim import HomeAssistantSim
from tests.support.services import TEST_SECRET_KEY
from tests.support.sshd import ClientKey, SshServer, cleanup, start_sshd

WEBHOOK_SECRET = "bench-webhook-secret"
HOME = "bench/home"
FLEET = "bench/fleet"
FAR = "bench/far"
SOLO = "bench/solo"
#: The round trip of the slow link (a host across a VPN, or a rented server).
LINK_RTT_S = 0.020
#: The pushes through the slow link's relay with no delay added, alternated with
#: ONE_TARGET_REVISIONS across it (one digit each, as there).
SLOW_LINK_REVISIONS = (1, 2, 3)


def round_trips(slow: list[float], direct: list[float]) -> float:
    """The round trips a push waits for: the median of the pair differences, slow minus
    direct, over the added round trip."""
    return statistics.median(s - d for s, d in zip(slow, direct, strict=True)) / LINK_RTT_S


CHANGED = "automations/automation-0000.yaml"
#: The rounds of the fan-out part: the one target's push, then the fan-out's, with these
#: revisions of the changed file (one digit each, so every push changes the same number of
#: bytes).
ONE_TARGET_REVISIONS = (4, 5, 6)
#: The fan-out's targets keep this many backups, and are brought past it by as many
#: unmeasured pushes before the rounds: every measured deployment then prunes one, as a
#: user's deployments do from the eleventh on (at the default of ten; what a prune costs
#: does not grow with the number kept).
FAN_OUT_BACKUPS_KEPT = 2
#: The revisions of those pushes (after every other one: no measured push repeats one).
PAST_THE_LIMIT_REVISIONS = (8, 9, 10)
DEPLOY_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Timing:
    benchmark: str  # "push to live" / "fan-out"
    what: str
    p50_s: float
    p95_s: float | None = None  # None when measured once
    detail: str = ""


# -- the Home Assistant configuration ----------------------------------------------------

CONFIGURATION = """\
# A home split into many small files: one package per room, one file per automation.
homeassistant:
  name: Bench Home
  unit_system: metric
  time_zone: Europe/Berlin
  packages: !include_dir_named packages
default_config:
logger:
  default: warning
automation: !include_dir_merge_list automations
script: !include scripts.yaml
scene: !include scenes.yaml
"""

SCRIPTS = """\
all_lights_off:
  alias: All lights off
  sequence:
    - action: light.turn_off
      target:
        entity_id: all
"""

SCENES = """\
- id: bench_evening
  name: Evening
  entities:
    light.room_0000:
      state: "on"
      brightness: 120
"""


def automation(n: int, revision: int) -> str:
    return f"""\
- id: bench_automation_{n:04}
  alias: Room {n} lights at sunset (revision {revision})
  triggers:
    - trigger: sun
      event: sunset
      offset: "-00:{revision % 60:02}:00"
  conditions:
    - condition: state
      entity_id: input_boolean.room_{n:04}_away
      state: "off"
  actions:
    - action: light.turn_on
      target:
        entity_id: light.room_{n:04}
      data:
        brightness_pct: {40 + revision % 60}
  mode: single
"""


def package(n: int) -> str:
    return f"""\
input_boolean:
  room_{n:04}_away:
    name: Room {n} away
    icon: mdi:home-export-outline
template:
  - sensor:
      - name: Room {n} comfort
        unique_id: bench_room_{n:04}_comfort
        state: "{{{{ states('sensor.room_{n:04}_temperature') | float(0) + 0.5 }}}}"
"""


def ha_tree(files: int) -> dict[str, str]:
    """A valid Home Assistant configuration of exactly ``files`` files."""
    tree = {"configuration.yaml": CONFIGURATION, "scripts.yaml": SCRIPTS, "scenes.yaml": SCENES}
    rest = files - len(tree)
    if rest < 2:
        raise ValueError(f"a benchmark tree needs at least {len(tree) + 2} files, not {files}")
    automations = rest // 2
    for n in range(automations):
        tree[f"automations/automation-{n:04}.yaml"] = automation(n, revision=0)
    for n in range(rest - automations):
        tree[f"packages/room_{n:04}.yaml"] = package(n)
    return tree


def size(content: str) -> int:
    return len(content.encode())


# -- the parts ---------------------------------------------------------------------------


class Outcomes:
    """Terminal deployment events as they reach the bus, by webhook delivery and target."""

    def __init__(self) -> None:
        self.found: dict[str, dict[str, tuple[Envelope, float]]] = {}
        self._arrived = asyncio.Event()

    async def on_message(self, msg: Any) -> None:
        """Only terminal events are parsed: the listener shares the deployer's process
        (and its one thread of Python) with what it measures."""
        at = time.perf_counter()
        kind = (msg.headers or {}).get(HEADER_EVENT_TYPE)
        if kind is not None and kind not in TERMINAL:
            return
        envelope = parse_event(msg.data)
        if envelope.type in TERMINAL:
            self.found.setdefault(envelope.correlation_id, {})[envelope.key] = (envelope, at)
            self._arrived.set()

    async def wait(self, delivery_id: str, targets: Iterable[str]) -> float:
        """When the last of ``targets`` succeeded for this delivery (perf_counter)."""
        wanted = set(targets)
        try:
            async with asyncio.timeout(DEPLOY_TIMEOUT_S):
                while True:
                    found = self.found.get(delivery_id, {})
                    failed = [e for e, _ in found.values() if e.type != "DeploymentSucceeded"]
                    if failed:
                        raise RuntimeError(f"a benchmark deployment failed: {failed[0].data}")
                    if wanted <= found.keys():
                        return max(found[t][1] for t in wanted)
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            missing = sorted(wanted - self.found.get(delivery_id, {}).keys())
            raise RuntimeError(
                f"no terminal event within {DEPLOY_TIMEOUT_S:.0f}s for {missing}"
            ) from None


@dataclass
class Repo:
    """A followed repository: its bare remote, and pushes announced by signed webhooks."""

    name: str
    remote: GitRemote
    head: str = ZERO
    deliveries: list[str] = field(default_factory=list)

    def commit_tree(self, tree: dict[str, str]) -> str:
        for path, content in tree.items():
            target = self.remote.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        git(self.remote.work, "add", "-A")
        git(self.remote.work, "commit", "-q", "-m", f"{len(tree)} files")
        return self.remote.push()


@dataclass
class Bench:
    world: World
    outcomes: Outcomes
    http: aiohttp.ClientSession
    gateway_port: int

    async def push(
        self,
        repo: Repo,
        files: dict[str, str],
        targets: Iterable[str],
        on_post: Callable[[], object] | None = None,
    ) -> float:
        """Commit and push ``files``, POST the signed webhook, wait until every target
        succeeded; seconds from the POST to the last ``DeploymentSucceeded``. ``on_post``
        is called just before the POST (the commit, the bench's own Git work, is done)."""
        deployer = self.world.deployers[0]
        assert deployer.dispatcher is not None
        try:  # each push starts on an idle deployer
            async with asyncio.timeout(DEPLOY_TIMEOUT_S):
                await deployer.dispatcher.idle.wait()
        except TimeoutError:
            running = sorted(deployer.dispatcher.running)
            raise RuntimeError(
                f"the deployer was not idle within {DEPLOY_TIMEOUT_S:.0f}s; still running: "
                f"{', '.join(running)}"
            ) from None
        before = repo.head
        if before == ZERO:
            after = repo.commit_tree(files)
        else:
            repo.remote.commit(dict(files), message=f"change {len(repo.deliveries)}")
            after = repo.remote.push()
        repo.head = after
        kind = "added" if before == ZERO else "modified"
        body = encode(
            push_payload(
                repo.name,
                before=before,
                after=after,
                files={"added": [], "modified": [], "removed": [], kind: sorted(files)},
            )
        )
        headers = delivery_headers("push", body, WEBHOOK_SECRET.encode())
        delivery_id = headers["X-GitHub-Delivery"]
        repo.deliveries.append(delivery_id)
        url = f"http://127.0.0.1:{self.gateway_port}/webhooks/github"
        if on_post is not None:
            on_post()
        started = time.perf_counter()
        async with self.http.post(url, data=body, headers=headers) as reply:
            answer = await reply.json()
            assert reply.status == 202 and not answer.get("duplicate"), answer
        return await self.outcomes.wait(delivery_id, targets) - started


def bytes_sent(
    events: Iterable[Envelope], deliveries: Iterable[str], targets: Iterable[str] | None = None
) -> int:
    """``FilesDeployed.bytes`` summed over the deployments of these deliveries (to
    ``targets`` only, when given: a target declared meanwhile makes its first, full
    deployment under the latest push's correlation)."""
    wanted = set(deliveries)
    only = None if targets is None else set(targets)
    return sum(
        e.data.bytes
        for e in events
        if isinstance(e.data, FilesDeployed)
        and e.correlation_id in wanted
        and (only is None or e.key in only)
    )


#: The steps of a deployment, each from one stored event to the next (``occurred_at`` is
#: when the deployer recorded it): where the fan-out's time goes, step by step, beside the
#: same steps of one target alone.
STEPS = (
    ("PushReceived", "DeployRequested", "push stored → deployment queued"),
    ("DeployRequested", "DeploymentStarted", "queued → started"),
    ("DeploymentStarted", "ConfigFetched", "started → commit fetched"),
    ("ConfigFetched", "ConfigValidated", "fetched → tree validated"),
    ("ConfigValidated", "DeploymentPlanned", "validated → planned (host listed)"),
    ("DeploymentPlanned", "BackupTaken", "planned → backed up"),
    ("BackupTaken", "FilesDeployed", "backed up → file uploaded"),
    ("FilesDeployed", "DeploymentSucceeded", "uploaded → succeeded"),
)


def step_times(
    events: Iterable[Envelope], delivery_id: str, targets: Iterable[str]
) -> dict[str, list[float]]:
    """Seconds each step of :data:`STEPS` took, one value per deployment of the delivery
    to ``targets`` (the push itself is one event shared by all of its deployments; a
    target declared meanwhile deploys under the same correlation, and is left out)."""
    wanted = set(targets)
    at: dict[str, dict[str, float]] = {}
    pushed: float | None = None
    for envelope in events:
        if envelope.correlation_id != delivery_id:
            continue
        if envelope.type != "PushReceived" and envelope.key not in wanted:
            continue
        when = envelope.occurred_at.timestamp()
        if envelope.type == "PushReceived":
            pushed = when
        else:
            at.setdefault(envelope.key, {}).setdefault(envelope.type, when)
    steps: dict[str, list[float]] = {name: [] for _, _, name in STEPS}
    for recorded in at.values():
        seen = recorded if pushed is None else {"PushReceived": pushed, **recorded}
        for first, then, name in STEPS:
            if first in seen and then in seen:
                steps[name].append(seen[then] - seen[first])
    return steps


def scp(server: SshServer, source: Path, dest: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            "scp", "-q", "-r", "-P", str(server.port), "-i", str(server.client_key),
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            str(source), f"{server.user}@{server.host}:{dest}",
        ],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started


def percentiles(values: list[float]) -> tuple[float, float | None]:
    p50 = statistics.median(values)
    if len(values) < 2:
        return p50, None
    return p50, statistics.quantiles(values, n=20, method="inclusive")[-1]


async def start_gateway(nats_url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = workdir / "webhook-gw.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hearth_webhook_gw"],
            env={
                **os.environ,
                "HEARTH_NATS_URL": nats_url,
                "HEARTH_HTTP_PORT": str(port),
                "HEARTH_SCOPE_KEY": scope_key(TEST_SECRET_KEY, "webhook-gw"),
                "HEARTH_DATA_DIR": str(workdir / "webhook-gw"),
                "HEARTH_INSTANCE": "bench-webhook-gw",
                "HEARTH_LOG_LEVEL": "warning",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    async with aiohttp.ClientSession() as session, asyncio.timeout(60):
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"webhook-gw exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return process, port
            await asyncio.sleep(0.1)


def stop_servers(servers: list[SshServer]) -> None:
    for server in servers:
        cleanup(server)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the benchmark -----------------------------------------------------------------------


class CpuWindow:
    """How busy the whole machine and this process (the deployer runs here) were while a
    push ran: fan-out is bound by the cores when every process of every target (sshd, the
    remote commands, Git, PostgreSQL, NATS) together keeps them all busy. :meth:`stop`
    ends the window."""

    def __init__(self) -> None:
        self.cores = os.cpu_count() or 1
        self._by_name = _cpu_by_name()
        self._machine = busy_seconds()
        self._own = time.process_time()
        self._wall = time.perf_counter()

    def stop(self) -> CpuWindow:
        self.wall = time.perf_counter() - self._wall
        #: CPU seconds: the whole machine's, this process's, and by process name.
        self.busy = busy_seconds() - self._machine
        self.own = time.process_time() - self._own
        now = _cpu_by_name()
        self.spent = {n: now[n] - self._by_name.get(n, 0.0) for n in now}
        return self

    @classmethod
    def average(cls, windows: list[CpuWindow]) -> CpuWindow:
        """One stopped window for a push: the mean of ``windows``, each of one push."""
        mean = cls.__new__(cls)
        mean.cores, count = windows[0].cores, len(windows)
        mean.wall = sum(w.wall for w in windows) / count
        mean.busy = sum(w.busy for w in windows) / count
        mean.own = sum(w.own for w in windows) / count
        names = {name for w in windows for name in w.spent}
        mean.spent = {n: sum(w.spent.get(n, 0.0) for w in windows) / count for n in names}
        return mean

    def summary(self, deployments: int) -> str:
        """``deployments``: how many deployments ran in the window, to show the CPU each
        cost, by process (``deployer`` is this one: the deployer, and the bench's listener)."""
        top = sorted(self.spent.items(), key=lambda item: -item[1])[:6]
        each = ", ".join(
            f"{name} {seconds * 1000 / deployments:.0f}" for name, seconds in top if seconds >= 0.01
        )
        return (
            f"cores busy {self.busy / self.wall:.1f} of {self.cores} "
            f"(the deployer's process {self.own / self.wall:.1f}); "
            f"CPU ms a deployment, by process: {each}"
        )

    def per_target_beyond(self, one: CpuWindow, fan_out: int) -> float:
        """CPU seconds of the deployer's process (its Git children included) for each of
        ``fan_out`` targets past the first, beside ``one`` push to one target."""
        return (self.spent["deployer"] - one.spent["deployer"]) / max(fan_out - 1, 1)

    def floor_row(self, fan_out: int, one: float) -> Timing:
        """The fan-out's CPU, spread over every core with none idle: no scheduling of
        the same work finishes sooner. The simulated hosts' share (sshd and the commands
        it ran) shown apart: on a real fleet it runs on the targets."""
        floor = self.busy / self.cores
        hosts = self.spent.get("sshd", 0.0)
        return Timing(
            "fan-out",
            f"floor: the CPU the {fan_out} deployments used, on every core, none idle",
            floor,
            None,
            f"{floor / one:.1f} times the 1-target time; {self.busy:.2f} CPU s on "
            f"{self.cores} cores, of which the simulated hosts' sshd and its commands "
            f"{hosts:.2f} s (without them: {(self.busy - hosts) / self.cores:.2f} s)",
        )


@contextlib.contextmanager
def profiled(name: str) -> Iterator[None]:
    """With ``HEARTH_BENCH_PROFILE=DIR``: cProfile of this process's event loop thread (the
    deployer's) while the block runs, written to ``DIR/<name>.prof`` (read it with
    ``python -m pstats``)."""
    folder = os.environ.get("HEARTH_BENCH_PROFILE")
    if not folder:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        Path(folder).mkdir(parents=True, exist_ok=True)
        profile.dump_stats(Path(folder) / f"{name}.prof")


def _cpu_by_name() -> dict[str, float]:
    """CPU seconds of the processes alive now and of the children they reaped, by name."""
    spent: dict[str, float] = {}
    this = os.getpid()
    for process in psutil.process_iter(["name", "cpu_times"]):
        times = process.info["cpu_times"]
        if times is not None:
            name = "deployer" if process.pid == this else _group(process.info["name"] or "?")
            own = times.user + times.system + times.children_user + times.children_system
            spent[name] = spent.get(name, 0.0) + own
    return spent


def _group(name: str) -> str:
    """A kernel thread's name says what it does at the moment (``kworker/u8:0-writeback``):
    group by what it is, so a thread that changed its task is not counted since boot."""
    return name.split("/", 1)[0] if "/" in name else name


#: The targets' login user when it exists (``scripts/ensure-test-deps`` makes it when run as
#: root): a stock shell. Every remote command starts the login shell, and on a developer's
#: machine root's ~/.bashrc (``pyenv init``) cost 90 ms of CPU per command session against
#: 1.9 ms for a stock one, which a fan-out would measure as Hearth's.
BENCH_USER = "hearth-bench"


def bench_user() -> str | None:
    if os.getuid() != 0:
        return None
    try:
        pwd.getpwnam(BENCH_USER)
    except KeyError:
        return None
    return BENCH_USER


async def run_deploy(files: int = 400, repeats: int = 20, fan_out: int = 20) -> list[Timing]:
    """Both benchmarks on private NATS, PostgreSQL, sshd instances and webhook-gw, all
    stopped and removed at the end, whatever happens."""
    if repeats < 1 or fan_out < 1:
        raise ValueError("repeats and fan_out must be at least 1")
    stack = contextlib.AsyncExitStack()
    try:
        return await _measure(stack, files, repeats, fan_out)
    finally:
        await stack.aclose()


async def _measure(
    stack: contextlib.AsyncExitStack, files: int, repeats: int, fan_out: int
) -> list[Timing]:
    tree = ha_tree(files)
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-deploy-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    nats_server = EmbeddedNats(workdir / "nats", port=free_port())
    nats_server.start()
    stack.callback(nats_server.stop)
    postgres = EmbeddedPostgres(workdir / "pg", port=free_port())
    postgres.start()
    stack.callback(postgres.stop, mode="immediate")
    key = ClientKey.generate(workdir)
    servers: list[SshServer] = []
    stack.callback(stop_servers, servers)
    user = bench_user()
    for _ in range(3 + fan_out):
        servers.append(start_sshd(key, user=user))
    home_server, solo_server, far_server = servers[0], servers[1], servers[-1]
    fleet_servers = servers[2:-1]
    ha = HomeAssistantSim(config_dir=home_server.remote_root)
    await ha.start()
    stack.push_async_callback(ha.stop)

    home = Repo(HOME, make_remote(workdir / "git", "home"))
    fleet = Repo(FLEET, make_remote(workdir / "git", "fleet"))
    far = Repo(FAR, make_remote(workdir / "git", "far"))
    solo = Repo(SOLO, make_remote(workdir / "git", "solo"))
    world = World(nats_server.url, postgres.dsn(), workdir / "data", home.remote)
    await world.open()
    stack.push_async_callback(world.close)
    await world.secret("ssh-key", key.path.read_text())
    await world.secret("ha-token", ha.token)
    await world.secret("webhook", WEBHOOK_SECRET, "webhook-gw")
    for repo in (home, fleet, far, solo):
        spec = RepositorySpec(name=repo.name, url=repo.remote.url, webhook_secret="webhook")
        await world.publish(RepositoryRegistered(repo=spec.name, spec=spec), "hearth apply")
    gateway, port = await start_gateway(nats_server.url, workdir)
    stack.callback(stop_process, gateway)
    await world.start()
    outcomes = Outcomes()
    await world.nc.subscribe("hearth.evt.deploy.>", cb=outcomes.on_message)
    http = await stack.enter_async_context(aiohttp.ClientSession())
    bench = Bench(world, outcomes, http, port)

    # Push to live: one Home Assistant, a one-file change, `repeats` times.
    reply = await world.apply_targets(
        ha_target(home_server, ha.url, repo=HOME, health_timeout_s=60)
    )
    assert reply["ok"], reply
    await bench.push(home, tree, ["ha"])  # the first, full deployment: not counted
    first = len(home.deliveries)
    hearth: list[float] = []
    changed_bytes = 0
    for revision in range(1, repeats + 1):
        content = automation(0, revision)
        hearth.append(await bench.push(home, {CHANGED: content}, ["ha"]))
        assert (home_server.remote_root / CHANGED).read_text() == content
        changed_bytes += size(content)

    local = workdir / "local" / "config"
    for path, content in tree.items():
        (local / path).parent.mkdir(parents=True, exist_ok=True)
        (local / path).write_text(content)
    tree_bytes = sum(size(c) for c in tree.values())
    copies = [
        await asyncio.to_thread(scp, home_server, local, f"{home_server.workdir}/scp-{n}")
        for n in range(repeats)
    ]

    # Fan-out: rounds of the same kind of push to one target, then to `fan_out` targets.
    names = [f"fleet-{n:02}" for n in range(fan_out)]
    kept = {"backups_kept": FAN_OUT_BACKUPS_KEPT}
    specs = [
        files_target(s, n, repo=FLEET, **kept) for n, s in zip(names, fleet_servers, strict=True)
    ]
    solo_spec = files_target(solo_server, "solo", repo=SOLO, **kept)
    reply = await world.apply_targets(solo_spec, *specs, prune=False)
    assert reply["ok"], reply
    await bench.push(solo, tree, ["solo"])  # full deployments: not counted
    await bench.push(fleet, tree, names)
    for revision in PAST_THE_LIMIT_REVISIONS:  # past the backup limit: not counted
        change = {CHANGED: automation(0, revision)}
        await bench.push(solo, change, ["solo"])
        await bench.push(fleet, change, names)
    ones, manys, one_windows, many_windows = [], [], [], []
    # Each window opens at the POST: the commit before it is the bench's own Git work.
    opened: list[CpuWindow] = []

    def open_window() -> None:
        opened.append(CpuWindow())

    with profiled("fan-out"):
        for revision in ONE_TARGET_REVISIONS:
            change = {CHANGED: automation(0, revision)}
            ones.append(await bench.push(solo, change, ["solo"], open_window))
            one_windows.append(opened.pop().stop())
            manys.append(await bench.push(fleet, change, names, open_window))
            many_windows.append(opened.pop().stop())
    one, many = statistics.median(ones), statistics.median(manys)
    one_window = CpuWindow.average(one_windows)
    one_cpu = one_window.summary(1)
    many_window = CpuWindow.average(many_windows)
    many_cpu = many_window.summary(fan_out)
    # What each target past the first costs the deployer's process: steadier than the
    # times, which this machine's drift moves by a quarter between runs of the same code.
    each_more = many_window.per_target_beyond(one_window, fan_out)
    one_delivery = solo.deliveries[-1]
    one_changed = size(automation(0, ONE_TARGET_REVISIONS[-1]))
    many_changed = one_changed * fan_out
    for server, declared in zip((*fleet_servers, solo_server), (*specs, solo_spec), strict=True):
        assert (server.remote_root / CHANGED).read_text() == automation(0, ONE_TARGET_REVISIONS[-1])
        # Past the limit: each measured deployment pruned one.
        backups = Path(backup_dir(TargetSpec.model_validate(declared)))
        assert len(list(backups.glob("*.json"))) == FAN_OUT_BACKUPS_KEPT

    started = time.perf_counter()
    await asyncio.gather(
        *(asyncio.to_thread(scp, s, local, f"{s.workdir}/scp-fan") for s in fleet_servers)
    )
    scp_fan = time.perf_counter() - started
    io = await io_floor(
        fleet_servers, nats_server.url, postgres.dsn(), CHANGED, automation(0, 7).encode()
    )
    # Hearth's one target with the I/O of the others added: the fan-out if Hearth's own
    # work per target (all but its I/O) cost nothing.
    io_bound = one + io.many - io.one
    records = records_cpu()
    slow, direct, slow_floor = await across_slow_link(bench, world, far, far_server, tree)
    # Every event of the run, read from the stream once (each read takes the whole stream).
    events = await world.events()
    sent = bytes_sent(events, home.deliveries[first:])
    one_sent = bytes_sent(events, [one_delivery], ["solo"])
    many_sent = bytes_sent(events, fleet.deliveries[-1:], names)
    alone = step_times(events, one_delivery, ["solo"])
    together = step_times(events, fleet.deliveries[-1], names)
    # What the floor counts, beside what Hearth's last deployment to one target published.
    published = sum(
        1 for e in events if e.correlation_id == fleet.deliveries[-1] and e.key == names[0]
    )

    p50, p95 = percentiles(hearth)
    scp50, scp95 = percentiles(copies)
    return [
        Timing(
            "push to live",
            f"hearth: signed webhook → live and healthy (1 of {files} files changed)",
            p50,
            p95,
            f"{repeats} pushes, Home Assistant reloads automations; "
            f"bytes sent {sent:,} / bytes changed {changed_bytes:,}",
        ),
        Timing(
            "push to live",
            f"baseline: scp -r of {files} files (one SSH connection)",
            scp50,
            scp95,
            f"{repeats} copies of {tree_bytes:,} bytes each",
        ),
        Timing(
            "fan-out",
            f"hearth: 1 push → 1 target, live (1 of {files} files changed)",
            one,
            max(ones),
            f"{len(ones)} pushes, each before one of the fan-out's; the last: bytes sent "
            f"{one_sent:,} / bytes changed "
            f"{one_changed:,}; {one_cpu}; "
            f"targets log in as {user or 'the runner'}",
        ),
        Timing(
            "fan-out",
            f"hearth: 1 push → {fan_out} targets, all live (1 of {files} files changed)",
            many,
            max(manys),
            f"{len(manys)} pushes, each after one to the 1 target; "
            f"{many / one:.1f} times the 1-target time; "
            f"bytes sent {many_sent:,} / bytes changed {many_changed:,}; {many_cpu}; "
            f"the deployer's CPU for each target past the first: {each_more * 1000:.1f} ms",
        ),
        many_window.floor_row(fan_out, one),
        Timing(
            "fan-out",
            f"baseline: {fan_out} scp -r of {files} files, in parallel",
            scp_fan,
            None,
            f"{tree_bytes * fan_out:,} bytes sent",
        ),
        Timing(
            "fan-out",
            "floor: a deployment's I/O with the raw libraries, 1 host",
            io.one,
            None,
            "the SSH command and requests, stored rows and published events of one Hearth "
            f"deployment ({sum(EVENTS)} events; Hearth's last to {names[0]}: {published}), "
            "with asyncssh, asyncpg and nats-py and nothing else (bench/io_floor.py); "
            "the median of 3",
        ),
        Timing(
            "fan-out",
            f"floor: a deployment's I/O with the raw libraries, {fan_out} hosts at once",
            io.many,
            None,
            f"{io.many / io.one:.1f} times 1 host; Hearth's 1 target plus this I/O of "
            f"the other {fan_out - 1} ({io_bound:.3f} s) is {io_bound / one:.1f} times the "
            "1-target time: the fan-out if Hearth's own work per target cost nothing; "
            f"CPU, every process: {io.many_cpu:.2f} s (Hearth's fan-out: "
            f"{many_window.busy:.2f} s); the median of 3",
        ),
        budget_row(fan_out, one, many, io.one, io.many),
        Timing(
            "fan-out",
            "floor: a deployment's records with no I/O, CPU (eventsourcing in memory, json)",
            records,
            None,
            f"its {sum(WRITES)} rows as events of one aggregate in {len(WRITES)} saves, its "
            f"{sum(EVENTS)} envelopes encoded: {records * fan_out * 1000:.0f} ms of CPU for "
            f"{fan_out} (bench/io_floor.py)",
        ),
        *(
            step_row(name, fan_out, together[name], alone[name])
            for _, _, name in STEPS
            if together[name] and alone[name]
        ),
        Timing(
            "slow link",
            f"hearth: 1 push → 1 target across a link of {LINK_RTT_S * 1000:.0f} ms round "
            f"trips, live (1 of {files} files changed)",
            statistics.median(slow),
            max(slow),
            f"{len(slow)} pushes; {round_trips(slow, direct):.0f} round trips' worth slower "
            f"than the same pushes alternated with them through the relay at no delay "
            f"({statistics.median(direct) * 1000:.0f} ms)",
        ),
        Timing(
            "slow link",
            "floor: the same SSH work with asyncssh alone, across that link",
            slow_floor,
            None,
            f"{slow_floor / LINK_RTT_S:.0f} round trips' worth; the median of 3",
        ),
    ]


async def across_slow_link(
    bench: Bench, world: World, far: Repo, server: SshServer, tree: dict[str, str]
) -> tuple[list[float], list[float], float]:
    """One-file pushes to a target behind a :class:`SlowLink` (its first, full deployment
    not counted): three with the link's round trips, alternated with three through the
    same relay with none added (what the round trips cost is the difference, free of
    this machine's drift between runs); and the SSH floor for one host across the link."""
    async with SlowLink(server.port, LINK_RTT_S) as link:
        spec = files_target(server, "far", repo=FAR, port=link.port)
        reply = await world.apply_targets(spec, prune=False)
        assert reply["ok"], reply
        await bench.push(far, tree, ["far"])
        slow, direct = [], []
        pairs = zip(SLOW_LINK_REVISIONS, ONE_TARGET_REVISIONS, strict=True)
        for near_revision, far_revision in pairs:
            link.rtt = 0.0
            change = {CHANGED: automation(0, near_revision)}
            direct.append(await bench.push(far, change, ["far"]))
            link.rtt = LINK_RTT_S
            change = {CHANGED: automation(0, far_revision)}
            slow.append(await bench.push(far, change, ["far"]))
        linked = dataclasses.replace(server, port=link.port)
        floor_one, _ = await ssh_floor([linked], CHANGED, automation(0, 7).encode())
    return slow, direct, floor_one


def budget_row(fan_out: int, one: float, many: float, io_one: float, io_many: float) -> Timing:
    """Wall time a target past the first: what the raw libraries' I/O alone added, beside
    what Hearth added and what a fan-out of at most 3 times the 1-target time allows."""
    more = max(fan_out - 1, 1)
    allowed, hearth, raw = 2 * one / more, (many - one) / more, (io_many - io_one) / more
    return Timing(
        "fan-out",
        "floor: each target past the first, its I/O with the raw libraries alone",
        raw,
        None,
        f"Hearth: {hearth * 1000:.1f} ms; at most 3 times the 1-target time allows "
        f"{allowed * 1000:.1f} ms; so the raw I/O leaves Hearth's own work per target "
        f"{(allowed - raw) * 1000:.1f} ms",
    )


def step_row(name: str, fan_out: int, together: list[float], alone: list[float]) -> Timing:
    many, one = statistics.median(together), statistics.median(alone)
    return Timing(
        "fan-out",
        f"step: {name}, {fan_out} targets (median, slowest)",
        many,
        max(together),
        f"1 target alone: {one * 1000:.0f} ms ({many / max(one, 1e-6):.1f} times)",
    )
