"""A simulated Home Assistant (the demo's, and the tests'): the REST endpoints the deployer
uses, judging real files.

``check_config`` loads ``configuration.yaml`` from ``config_dir`` (the directory the SSH
target writes to) the way Home Assistant does: includes resolved relative to the file,
``!secret`` looked up in ``secrets.yaml``, unknown integrations reported in HA's words.
A restart takes the API down for ``restart_s``; it comes back RUNNING, or NOT_RUNNING
when ``fails_to_start(config_dir)`` says the files on disk break start-up (a config that
passes the check but breaks at run time), or not at all when ``stays_down`` is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

KNOWN_INTEGRATIONS = {
    "homeassistant",
    "default_config",
    "frontend",
    "http",
    "logger",
    "recorder",
    "history",
    "automation",
    "script",
    "scene",
    "group",
    "sensor",
    "binary_sensor",
    "light",
    "switch",
    "input_boolean",
    "input_number",
    "input_select",
    "template",
    "mqtt",
    "zone",
    "person",
    "notify",
    "shell_command",
    "rest_command",
    "lovelace",
    "tts",
    "cover",
    "climate",
}


CONTAINER_CONFIG_DIR = "/config"


class _InvalidConfig(Exception):
    pass


def load_config(config_dir: Path) -> dict[str, Any]:
    main = config_dir / "configuration.yaml"
    if not main.is_file():
        raise _InvalidConfig(f"Configuration file {main} not found")
    loaded = _ConfigReader(config_dir).load_file(main)
    return loaded if isinstance(loaded, dict) else {}


INCLUDE_DIR_TAGS = (
    "!include_dir_list",
    "!include_dir_named",
    "!include_dir_merge_list",
    "!include_dir_merge_named",
)


@dataclass(frozen=True)
class _ConfigReader:
    """Home Assistant's YAML: ``!include``, the ``!include_dir_*`` tags and ``!secret``."""

    config_dir: Path

    def load_file(self, path: Path) -> Any:
        try:
            return yaml.load(path.read_text(), Loader=self._loader_for(path))  # noqa: S506 (a SafeLoader subclass)
        except yaml.YAMLError as exc:
            raise _InvalidConfig(f"Error loading {path}: {exc}") from None

    def _resolve(self, including: Path, value: str) -> Path:
        # In Home Assistant OS and the container image the configuration directory is
        # /config, so an absolute include under /config is a file of config_dir.
        if value == CONTAINER_CONFIG_DIR or value.startswith(CONTAINER_CONFIG_DIR + "/"):
            return self.config_dir / value[len(CONTAINER_CONFIG_DIR) :].lstrip("/")
        return including.parent / value

    def _loader_for(self, path: Path) -> type[yaml.SafeLoader]:
        class Loader(yaml.SafeLoader):
            pass

        def include(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
            return self._include(path, str(loader.construct_scalar(node)))  # type: ignore[arg-type]

        def include_dir(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
            target = str(loader.construct_scalar(node))  # type: ignore[arg-type]
            return self._include_dir(path, target, node.tag)

        def secret(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
            return self._secret(path, str(loader.construct_scalar(node)))  # type: ignore[arg-type]

        def passthrough(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
            return loader.construct_scalar(node)  # type: ignore[arg-type]

        Loader.add_constructor("!include", include)
        for tag in INCLUDE_DIR_TAGS:
            Loader.add_constructor(tag, include_dir)
        Loader.add_constructor("!secret", secret)
        Loader.add_constructor("!env_var", passthrough)
        Loader.add_constructor("!input", passthrough)
        return Loader

    def _include(self, path: Path, value: str) -> Any:
        target = self._resolve(path, value)
        if not target.is_file():
            raise _InvalidConfig(f"Unable to read file {target}")
        return self.load_file(target)

    def _include_dir(self, path: Path, value: str, tag: str) -> Any:
        target = self._resolve(path, value)
        if not target.is_dir():
            raise _InvalidConfig(f"Unable to read directory {target}")
        files = sorted(
            f
            for f in target.rglob("*.yaml")
            if f.name != "secrets.yaml"
            and not any(p.startswith(".") for p in f.relative_to(target).parts)
        )
        if tag.endswith("_named"):
            return self._named(files, merge=tag != "!include_dir_named")
        items: list[Any] = []
        for f in files:
            loaded = self.load_file(f)
            items.extend(
                loaded if tag.endswith("merge_list") and isinstance(loaded, list) else [loaded]
            )
        return items

    def _named(self, files: list[Path], *, merge: bool) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for f in files:
            loaded = self.load_file(f)
            if not merge:
                merged[f.stem] = loaded
            elif isinstance(loaded, dict):
                merged.update(loaded)
        return merged

    def _secret(self, path: Path, name: str) -> Any:
        # secrets.yaml beside the file, then each parent up to the configuration root.
        for folder in (path.parent, *path.parent.parents):
            found = folder / "secrets.yaml"
            secrets = yaml.safe_load(found.read_text()) if found.exists() else {}
            if isinstance(secrets, dict) and name in secrets:
                return secrets[name]
            if folder == self.config_dir:
                break
        raise _InvalidConfig(f"Secret {name} not defined")


@dataclass
class HomeAssistantSim:
    config_dir: Path
    token: str = "ha-token"  # noqa: S105 (the simulator's test token)
    restart_s: float = 0.5
    fails_to_start: Callable[[Path], bool] | None = None
    stays_down: bool = False
    version: str = "2026.11.1"
    state: str = "RUNNING"
    restarts: int = 0
    checks: int = 0
    reloads: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def check(self) -> dict[str, Any]:
        self.checks += 1
        try:
            config = load_config(self.config_dir)
        except _InvalidConfig as exc:
            return {"result": "invalid", "errors": str(exc), "warnings": None}
        unknown = sorted(set(config) - KNOWN_INTEGRATIONS)
        if unknown:
            errors = "\n".join(
                f"Integration error: {name} - Integration '{name}' not found." for name in unknown
            )
            return {"result": "invalid", "errors": errors, "warnings": None}
        return {"result": "valid", "errors": None, "warnings": None}

    # -- serving ---------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/api/", self._api)
        app.router.add_get("/api/config", self._config)
        app.router.add_post("/api/config/core/check_config", self._check_config)
        app.router.add_post("/api/services/{domain}/{service}", self._service)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await self._site.start()
        if not self.port:
            server = self._site._server
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401, text="401: Unauthorized")
        result: web.StreamResponse = await handler(request)
        return result

    async def _api(self, _: web.Request) -> web.Response:
        return web.json_response({"message": "API running."})

    async def _config(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "state": self.state,
                "version": self.version,
                "config_dir": "/config",
                "location_name": "Home",
            }
        )

    async def _check_config(self, _: web.Request) -> web.Response:
        # Off the event loop: a real Home Assistant is another process, and a check of a
        # big configuration must not stall whatever shares this loop (a test, a bench).
        return web.json_response(await asyncio.to_thread(self.check))

    async def _service(self, request: web.Request) -> web.Response:
        domain, service = request.match_info["domain"], request.match_info["service"]
        if (domain, service) == ("homeassistant", "restart"):
            result = await asyncio.to_thread(self.check)
            if result["result"] != "valid":
                return web.Response(
                    status=500, text="500 Internal Server Error\n\nServer got itself in trouble"
                )
            self.restarts += 1
            asyncio.get_running_loop().call_later(
                0.05, lambda: asyncio.ensure_future(self._go_down_and_up())
            )
            return web.json_response([])
        if service == "reload":
            self.reloads.append(domain)
            return web.json_response([])
        return web.json_response({"message": f"Service {domain}.{service} not found."}, status=400)

    async def _go_down_and_up(self) -> None:
        if self._site is not None:
            await self._site.stop()
        await asyncio.sleep(self.restart_s)
        if self.stays_down:
            return
        broken = self.fails_to_start is not None and self.fails_to_start(self.config_dir)
        self.state = "NOT_RUNNING" if broken else "RUNNING"
        await self._listen()


async def serve(config_dir: Path, port: int, token: str) -> None:
    """Run until cancelled (the demo's own Home Assistant)."""
    sim = HomeAssistantSim(config_dir=config_dir, token=token, port=port, restart_s=2.0)
    await sim.start()
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


if __name__ == "__main__":
    import sys

    asyncio.run(serve(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
