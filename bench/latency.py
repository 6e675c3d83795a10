"""A slow link on loopback: a TCP relay that holds every chunk for half a round trip in
each direction, as a host across a VPN or on a rented server would. What a deployment
costs there is its round trips: this machine's own cores and disk are the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class SlowLink:
    """``127.0.0.1:port`` relays to ``127.0.0.1:upstream`` with ``rtt`` seconds added to
    every round trip; order and bytes are kept. Use ``async with SlowLink(...)``."""

    def __init__(self, upstream: int, rtt: float) -> None:
        self.upstream = upstream
        self.rtt = rtt
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> SlowLink:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
            await asyncio.gather(self._one_way(reader, up_writer), self._one_way(up_reader, writer))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _one_way(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await held.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    writer.close()
                    return
                writer.write(data)

        delivering = asyncio.create_task(deliver())
        try:
            while True:
                try:
                    data = await reader.read(65536)
                except ConnectionError:
                    data = b""
                held.put_nowait((time.monotonic() + self.rtt / 2, data))
                if not data:
                    break
            await delivering
        finally:
            delivering.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await delivering
