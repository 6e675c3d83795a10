"""The real query API beside a test's deployer: what `hearth status` and the dashboard read."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nats

from tests.integration.deployer.harness import World
from tests.support.services import ServiceProcess


@dataclass
class ReadSide:
    api: ServiceProcess
    token: str

    @classmethod
    async def start(cls, world: World, start_service: Callable[..., ServiceProcess]) -> ReadSide:
        api = start_service(
            "query-api", HEARTH_NATS_URL=world.nats_url, HEARTH_DATABASE_URL=world.database_url
        )
        api.wait_for("/readyz", 200)
        nc = await nats.connect(world.nats_url)
        reply = await nc.request(
            "hearth.cmd.query.CreateToken",
            json.dumps({"name": "viewer", "role": "viewer"}).encode(),
            timeout=10,
        )
        await nc.close()
        return cls(api, json.loads(reply.data)["token"])

    async def get(self, path: str) -> Any:
        def call() -> Any:
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.api.port}{path}",
                headers={"Authorization": f"Bearer {self.token}"},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.loads(response.read())

        return await asyncio.to_thread(call)

    async def until(self, path: str, holds: Callable[[Any], bool], timeout: float = 20) -> Any:
        """The answer at ``path`` once ``holds`` accepts it (the projection caught up)."""
        async with asyncio.timeout(timeout):
            while not holds(answer := await self.get(path)):
                await asyncio.sleep(0.1)
        return answer
