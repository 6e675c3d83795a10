"""The slow link's floor in SSH alone: a one-file deployment's remote work done with
asyncssh directly, to one host and to ``len(servers)`` hosts at once, across the slow
link's delay (``bench.deploy.across_slow_link``): the round trips any client waits for.

Per host, over a connection opened beforehand (Hearth keeps its connections open too):

1. list size, mode and mtime of every file (``find -printf``: Hearth's quick check);
2. back up the file about to be replaced (``tar`` into a folder beside the root, and its
   sha256);
3. write the new file atomically over SFTP: a temporary file, its mode, ``fsync``, a
   rename over the old one;
4. list the tree again.

The fan-out's floor, the whole I/O of a deployment (SSH, PostgreSQL, NATS) as Hearth
does it today, is ``bench/io_floor.py``.
"""

from __future__ import annotations

import asyncio
import shlex
import statistics
import time
from collections.abc import Sequence

import asyncssh

from tests.support.sshd import SshServer

LIST = "find . -type f -printf '%s %m %T@ %p\\0'"


async def connect(server: SshServer) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        server.host,
        port=server.port,
        username=server.user,
        client_keys=[str(server.client_key)],
        known_hosts=None,
    )


async def deploy_one(
    conn: asyncssh.SSHClientConnection, server: SshServer, rel: str, content: bytes, n: int
) -> None:
    root = shlex.quote(str(server.remote_root))
    backups = shlex.quote(f"{server.workdir}/floor-backups")
    listed = await conn.run(f"cd {root} && {LIST}", check=True)
    assert listed.stdout
    archive = f"{backups}/{n}.tar"
    await conn.run(
        f"mkdir -p {backups} && cd {root} && tar -cf {archive} -- {shlex.quote(rel)} "
        f"&& sha256sum {archive}",
        check=True,
    )
    final = f"{server.remote_root}/{rel}"
    temporary = f"{final}.floor-{n}"
    async with conn.start_sftp_client() as sftp:
        async with sftp.open(temporary, "wb") as handle:
            await handle.write(content)
            await handle.chmod(0o644)
            await handle.fsync()
        await sftp.posix_rename(temporary, final)
    await conn.run(f"cd {root} && {LIST}", check=True)


async def floor(
    servers: Sequence[SshServer], rel: str, content: bytes, *, revisions: int = 3
) -> tuple[float, float]:
    """(one host: the median of ``revisions`` runs, all hosts at once) in seconds."""
    conns = await asyncio.gather(*(connect(server) for server in servers))
    try:
        ones = []
        for n in range(revisions):
            started = time.perf_counter()
            await deploy_one(conns[0], servers[0], rel, content, n)
            ones.append(time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.gather(
            *(
                deploy_one(conn, server, rel, content, revisions)
                for conn, server in zip(conns, servers, strict=True)
            )
        )
        return statistics.median(ones), time.perf_counter() - started
    finally:
        for conn in conns:
            conn.close()
        await asyncio.gather(*(conn.wait_closed() for conn in conns))
