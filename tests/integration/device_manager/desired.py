"""Desired device config in a real Git repository, pushed the way the webhook gateway does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hearth.demo.shelly import SimDevice
from hearth_events import new_event
from hearth_events.catalogue import CommitInfo, PushReceived
from hearth_events.publish import publish_event
from tests.integration.device_manager.harness import World
from tests.support.git import GitRemote

REPO = "home/config"


def device_file(sim: SimDevice, body: str, *, groups: tuple[str, ...] = ("house",)) -> str:
    names = ", ".join(f'"{g}"' for g in groups)
    return f'mac = "{sim.mac}"\nmodel = "{sim.model.model}"\ngroups = [{names}]\n\n{body}'


@dataclass
class DesiredGit:
    world: World
    remote: GitRemote
    pushes: int = 0

    async def declare(self, path: str = "shelly/", **body: Any) -> dict[str, Any]:
        reply = await self.world.command(
            "ApplyDevices",
            devices=body.pop("devices", []),
            device_config={"repo": REPO, "path": path, "branch": "main"},
            repository={"name": REPO, "url": self.remote.url},
            actor="hearth apply",
            **body,
        )
        assert reply["ok"], reply
        return reply

    async def announce_again(self, commit: str) -> None:
        """The push of ``commit`` delivered once more, late (a webhook redelivery)."""
        data = PushReceived(
            delivery_id=f"redelivery-{commit[:8]}",
            repo=REPO,
            ref="refs/heads/main",
            branch="main",
            before="0" * 40,
            after=commit,
        )
        await publish_event(self.world.js, new_event(data, source="test", actor="github"))

    async def push(self, files: Mapping[str, str | None], folder: str = "shelly/") -> str:
        """Commit ``files`` (paths inside the folder), push, and announce the push."""
        before = self.remote.head() if self.pushes else "0" * 40
        self.remote.commit({f"{folder}{p}": c for p, c in files.items()})
        after = self.remote.push()
        self.pushes += 1
        data = PushReceived(
            delivery_id=f"delivery-{after[:8]}",
            repo=REPO,
            ref="refs/heads/main",
            branch="main",
            before=before,
            after=after,
            pusher="alice",
            commits=(CommitInfo(id=after, message="change", modified=tuple(files)),),
        )
        await publish_event(self.world.js, new_event(data, source="test", actor="alice"))
        return after

    def commit_only(self, files: Mapping[str, str | None], folder: str = "shelly/") -> str:
        """Commit and push without announcing it (as if the webhook was missed)."""
        self.remote.commit({f"{folder}{p}": c for p, c in files.items()})
        self.pushes += 1
        return self.remote.push()
