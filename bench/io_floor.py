"""The fan-out's floor: the I/O one Hearth deployment of a one-file change does, done with
the raw libraries (asyncssh, asyncpg, nats-py) and nothing else, to one host and to
``len(servers)`` hosts at once.

Counted off Hearth's own fan-out (the request counts per deployment in
``docs/design.md``), per host, over connections and an SFTP session opened beforehand:

- **SSH**: the quick check's one ``find -printf`` command, then 38 SFTP requests of the
  kinds Hearth sends to a target past its backup limit (2 REALPATH, 2 STAT, 6 LSTAT,
  5 OPEN, 3 READ, 3 WRITE, 2 fsync, 1 FSETSTAT, 3 posix-rename, 1 OPENDIR, 2 READDIR,
  6 CLOSE, 2 REMOVE): the file read for its backup, the backup archive written, synced
  and read back, the backup folder listed, the oldest backup removed, the new file
  written atomically (temporary file, mode, fsync, rename), the host's record written
  beside it;
- **PostgreSQL**: the deployment's 16 stored rows (its 10 events and 6 of the deployer's
  bookkeeping) in the 6 writes Hearth makes, each durable before the run goes on (the
  steps before the upload are stored together, with the upload's beginning),
  with the writes that queue up meanwhile committed together (as Hearth's store does);
- **NATS**: its 10 events published to a stream and acknowledged, and the target's lease
  as a KV key: created, read back before the files move, deleted.

No validation, plan, aggregate, log, retry or fence: this is what a deployer whose own
work cost nothing would still wait for. The 1-target time is the median of ``revisions``
runs alternated with as many runs of all hosts at once (the median of those).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import asyncssh
import nats
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from nats.js.api import KeyValueConfig, StreamConfig

from bench.ssh_floor import LIST, connect
from tests.support.sshd import SshServer

STREAM = "BENCH_IO_FLOOR"
BUCKET = "bench_io_floor"
#: The rows each write of a deployment stores, in order: queued, begun on its line, the
#: upload begun (with the steps held until then: started, fetched, validated, planned,
#: backed up), deployed, succeeded, ended on its line (16: its 10 events and 6 of the
#: deployer's bookkeeping; a deployment of under a second stores its whole log, one
#: event, with its success; a ``files`` target with no post-deploy command, as the
#: bench's, records no restart).
WRITES = (3, 1, 7, 1, 3, 1)
#: The events each write publishes (the bookkeeping is not published).
EVENTS = (1, 0, 5, 1, 3, 0)
_SETUP = "CREATE TABLE IF NOT EXISTS bench_io_floor (id bigserial PRIMARY KEY, body bytea)"
_INSERT = "INSERT INTO bench_io_floor (body) SELECT unnest($1::bytea[])"
_BODY = b"x" * 400  # about the size of a stored event


@dataclass
class Host:
    server: SshServer
    conn: asyncssh.SSHClientConnection
    sftp: asyncssh.SFTPClient
    #: The backup archive this host's last deployment wrote, pruned by the next one.
    last_backup: str | None = None


class GroupCommit:
    """One transaction at a time; the rows that queue up meanwhile go in the next one."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.queued: list[tuple[int, asyncio.Future[None]]] = []
        self.drainer: asyncio.Task[None] | None = None

    async def write(self, rows: int) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queued.append((rows, done))
        if self.drainer is None or self.drainer.done():
            self.drainer = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self.queued:
            batch, self.queued = self.queued, []
            async with self.pool.acquire() as conn:
                await conn.execute(_INSERT, [_BODY] * sum(rows for rows, _ in batch))
            for _, done in batch:
                done.set_result(None)


class Bus:
    def __init__(self, js: Any, kv: Any) -> None:
        self.js, self.kv = js, kv

    async def publish(self, key: str, count: int) -> None:
        await asyncio.gather(
            *(
                self.js.publish(
                    f"bench.floor.{key}",
                    _BODY,
                    headers={"Nats-Msg-Id": str(uuid.uuid4())},
                )
                for _ in range(count)
            )
        )


async def _lstat_if_there(sftp: asyncssh.SFTPClient, path: str) -> None:
    with contextlib.suppress(asyncssh.SFTPNoSuchFile):
        await sftp.lstat(path)


async def _remove_if_there(sftp: asyncssh.SFTPClient, path: str) -> None:
    with contextlib.suppress(asyncssh.SFTPNoSuchFile):
        await sftp.remove(path)


async def _record(store: GroupCommit, bus: Bus, key: str, step: int) -> None:
    await store.write(WRITES[step])
    if EVENTS[step]:
        await bus.publish(key, EVENTS[step])


async def deploy_one(
    host: Host, store: GroupCommit, bus: Bus, rel: str, content: bytes, n: int
) -> None:
    server, sftp = host.server, host.sftp
    key = f"h{server.port}"
    root = str(server.remote_root)
    backups = f"{server.workdir}/io-floor-backups"
    final = f"{root}/{rel}"
    await _record(store, bus, key, 0)  # queued
    revision = await bus.kv.create(f"lease.{key}", b"holder")
    await _record(store, bus, key, 1)  # begun on its line
    await sftp.realpath(root)
    listed = await host.conn.run(f"cd -- {shlex.quote(root)} || exit 3; {LIST}", check=True)
    assert listed.stdout
    await asyncio.gather(sftp.stat(root), sftp.lstat(final), sftp.realpath(backups))
    # The backup: the file read, the archive written, synced, read back; the folder listed.
    size = (await sftp.lstat(final)).size or 0
    async with sftp.open(final, "rb") as source:
        old = await source.read(size)
        assert not await source.read(1)  # the end of the file
    archive = f"{backups}/{n}.tar"
    async with sftp.open(f"{archive}.part", "wb") as packed:
        await packed.write(old)
        await packed.fsync()
    async with sftp.open(f"{archive}.part", "rb") as back:
        assert await back.read(len(old)) == old
    await asyncio.gather(sftp.posix_rename(f"{archive}.part", archive), sftp.listdir(backups))
    # Past the limit: the oldest backup pruned, its JSON first, then its archive.
    if host.last_backup is not None:
        await _remove_if_there(sftp, f"{host.last_backup}.json")
        await _remove_if_there(sftp, host.last_backup)
    host.last_backup = archive
    # The upload: a temporary file, its mode, fsync, rename; the lease read back first.
    entry = await bus.kv.get(f"lease.{key}")
    assert entry.revision == revision
    await _record(store, bus, key, 2)  # started to upload begun, held until here
    temporary = f"{final}.io-floor-{n}"
    async with sftp.open(temporary, "wb") as handle:
        await handle.write(content)
        await handle.chmod(0o644)
        await handle.fsync()
    await sftp.posix_rename(temporary, final)
    await asyncio.gather(sftp.lstat(final), _lstat_if_there(sftp, temporary))
    await _record(store, bus, key, 3)  # deployed
    # The host's record, written beside the root: the root, the record and its folder
    # looked at, then the record replaced.
    record = f"{server.workdir}/io-floor-record"
    await asyncio.gather(sftp.stat(root), sftp.lstat(record), sftp.lstat(str(server.workdir)))
    async with sftp.open(f"{record}.part", "wb") as stamp:
        await stamp.write(str(listed.stdout)[:64].encode())
    await sftp.posix_rename(f"{record}.part", record)
    await _record(store, bus, key, 4)  # succeeded
    await _record(store, bus, key, 5)  # ended on its line
    await bus.kv.delete(f"lease.{key}", last=entry.revision)


async def _connect(server: SshServer) -> Host:
    conn = await connect(server)
    sftp = await conn.start_sftp_client()
    await sftp.makedirs(f"{server.workdir}/io-floor-backups", exist_ok=True)
    async with sftp.open(f"{server.workdir}/io-floor-record", "wb") as record:
        await record.write(b"the host's record")
    return Host(server, conn, sftp)


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores; /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Floor:
    """Seconds: one host, all hosts at once (the medians of the rounds), and the CPU all
    hosts at once used, every process of the machine together (the median)."""

    one: float
    many: float
    many_cpu: float


async def floor(
    servers: Sequence[SshServer],
    nats_url: str,
    database_url: str,
    rel: str,
    content: bytes,
    *,
    revisions: int = 3,
) -> Floor:
    """The I/O of one deployment to one host, then to all at once, ``revisions`` times."""
    hosts = await asyncio.gather(*(_connect(server) for server in servers))
    nc = await nats.connect(nats_url)
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=4)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=STREAM, subjects=["bench.floor.>"]))
        kv = await js.create_key_value(KeyValueConfig(bucket=BUCKET, ttl=30))
        async with pool.acquire() as conn:
            await conn.execute(_SETUP)
        store, bus = GroupCommit(pool), Bus(js, kv)
        ones, manys, cpus, n = [], [], [], 0
        for _ in range(revisions):
            n += 1
            started = time.perf_counter()
            await deploy_one(hosts[0], store, bus, rel, content, n)
            ones.append(time.perf_counter() - started)
            n += 1
            busy, started = busy_seconds(), time.perf_counter()
            await asyncio.gather(*(deploy_one(h, store, bus, rel, content, n) for h in hosts))
            manys.append(time.perf_counter() - started)
            cpus.append(busy_seconds() - busy)
        await js.delete_stream(STREAM)
        await js.delete_key_value(BUCKET)
        median = statistics.median
        return Floor(median(ones), median(manys), median(cpus))
    finally:
        await pool.close()
        await nc.close()
        for host in hosts:
            host.sftp.exit()
            host.conn.close()
        await asyncio.gather(*(host.conn.wait_closed() for host in hosts))


class _Run(Aggregate):
    """A deployment's stand-in: created, then one event a stored row."""

    @event("Requested")
    def __init__(self, target: str, request: dict[str, Any]) -> None:
        self.target = target
        self.request = request
        self.steps: list[str] = []

    @event("Stepped")
    def step(self, name: str, detail: dict[str, Any]) -> None:
        self.steps.append(name)


def records_cpu(deployments: int = 500) -> float:
    """CPU seconds one deployment's records cost with no I/O at all: eventsourcing on its
    in-memory recorder (the rows of :data:`WRITES` as events of one aggregate, a save
    each), and the :data:`EVENTS` envelopes encoded with ``json``. The least any
    event-sourced deployer spends."""
    app: Application[Any] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    detail = {"deployment_id": str(uuid.uuid4()), "files": 1, "bytes": 395, "commit": "a" * 40}
    envelope = {
        "event_id": "", "type": "FilesDeployed", "schema_version": 1,
        "occurred_at": "2026-12-06T00:00:00+00:00", "source": "deployer/bench",
        "key": "fleet-01", "aggregate_id": "", "aggregate_version": 1,
        "correlation_id": "delivery", "causation_id": None, "actor": "github:alice",
        "data": detail,
    }  # fmt: skip

    def one() -> None:
        run = _Run(target="fleet-01", request={"commit": "a" * 40, "branch": "main"})
        for index, rows in enumerate(WRITES):
            for _ in range(rows - (1 if index == 0 else 0)):
                run.step("step", detail)
            app.save(run)
        for _ in range(sum(EVENTS)):
            json.dumps({**envelope, "event_id": str(uuid.uuid4()), "aggregate_id": str(run.id)})

    for _ in range(deployments // 10):  # warm
        one()
    started = time.process_time()
    for _ in range(deployments):
        one()
    return (time.process_time() - started) / deployments
