"""Composition root of the device-manager service: the only place that wires real adapters
(aioshelly, zeroconf, HTTP scans, NATS KV); tests pass fakes to the handlers instead."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from pathlib import Path
from typing import ClassVar

import aiohttp
from zeroconf.asyncio import AsyncZeroconf

from hearth_device_manager.adapters.coordinator import Backoff
from hearth_device_manager.adapters.gitrepo import GitTrees
from hearth_device_manager.adapters.mdns import MdnsBrowser
from hearth_device_manager.adapters.probe import HttpProber
from hearth_device_manager.adapters.scanner import scan
from hearth_device_manager.adapters.shelly import ShellyConnector
from hearth_device_manager.adapters.status_kv import KvStatusWriter
from hearth_device_manager.apply import Applier, ApplyTiming
from hearth_device_manager.convergence import Convergence, ConvergeTiming, NoSnapshots
from hearth_device_manager.desired_sync import DesiredRepo
from hearth_device_manager.domain.device import Found
from hearth_device_manager.entrypoints.commands import DeviceCommands
from hearth_device_manager.handlers import DeviceHandlers, Timing
from hearth_device_manager.ports import Snapshots
from hearth_device_manager.settings import DeviceManagerSettings
from hearth_device_manager.store import SCHEMA, DeviceManagerApplication, DeviceStore
from hearth_eventstore.relay import Relay
from hearth_eventstore.service import open_when_reachable, start_relay
from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings, get_logger
from hearth_servicekit.secrets import SecretBox, SecretStore, service_box

log = get_logger("hearth.device_manager")


class DeviceManager(BusService):
    name: ClassVar[str] = "device-manager"
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ("hearth_device_status", "hearth_secrets")
    consumers: ClassVar[tuple[str, ...]] = ("device-manager",)
    uses_database: ClassVar[bool] = True

    def __init__(
        self, settings: ServiceSettings, metrics: ServiceMetrics, box: SecretBox | None = None
    ) -> None:
        super().__init__(settings, metrics)
        self.options = (
            settings
            if isinstance(settings, DeviceManagerSettings)
            else DeviceManagerSettings.model_validate(settings.model_dump())
        )
        self._box = box
        self.app: DeviceManagerApplication | None = None
        self.relay: Relay | None = None
        self.handlers: DeviceHandlers | None = None
        self.commands: DeviceCommands | None = None
        self.mdns: MdnsBrowser | None = None
        self._session: aiohttp.ClientSession | None = None
        self.desired: DesiredRepo | None = None
        self.convergence: Convergence | None = None
        #: Backup before apply: the device backups replace this when they are wired.
        self.snapshots: Snapshots = NoSnapshots()

    async def on_start(self) -> None:
        self.app = await open_when_reachable(self, DeviceManagerApplication, SCHEMA)
        self.relay = start_relay(self, self.app)
        options = self.options
        session = self._session = aiohttp.ClientSession()
        prober = HttpProber(session, options.scan_timeout_s)
        timing = Timing(
            presence_window_s=options.presence_window_s,
            backoff=Backoff(
                first_s=options.reconnect_first_s,
                max_s=options.reconnect_max_s,
                credentials_s=options.wrong_credentials_retry_s,
            ),
            connect_concurrency=options.connect_concurrency,
        )
        if self._box is None:
            self._box = service_box(self.settings.scope_key, self.name, "device passwords")
        secrets = SecretStore(self.js, self._box)
        handlers = self.handlers = DeviceHandlers(
            DeviceStore(self.app),
            ShellyConnector(session),
            KvStatusWriter(self.js),
            secrets,
            timing=timing,
        )
        await self._start_desired_config(handlers, secrets)
        await handlers.start()

        async def run_scan(cidrs: list[str], ports: list[int]) -> list[Found]:
            return await scan(prober, cidrs, ports, concurrency=options.scan_concurrency)

        self.commands = DeviceCommands(
            handlers,
            run_scan,
            prober,
            options.discovery_ports,
            desired=self.desired,
            convergence=self.convergence,
        )
        await self.commands.serve(self.nc, queue=self.name)
        if options.discovery_mdns:
            try:
                zeroconf = (
                    AsyncZeroconf(interfaces=options.discovery_mdns_interfaces)
                    if options.discovery_mdns_interfaces
                    else AsyncZeroconf()
                )
                self.mdns = MdnsBrowser(prober, handlers.found, zeroconf, own=True)
                await self.mdns.start()
            except OSError as exc:  # no multicast here: scans still work
                log.warning("mDNS discovery unavailable", reason=str(exc))
                self.mdns = None
        if options.discovery_cidrs and options.discovery_interval_s > 0:
            self.spawn(self._scan_forever(run_scan), "scheduled-discovery")

    async def _start_desired_config(self, handlers: DeviceHandlers, secrets: SecretStore) -> None:
        """Desired config from Git, drift and apply (docs/devices.md)."""
        options = self.options
        applier = Applier(
            handlers,
            secrets,
            self.snapshots,
            ApplyTiming(comeback_s=options.apply_comeback_s, attempts=options.apply_attempts),
        )
        trees = GitTrees(Path(options.data_dir) / "device-manager" / "git")
        desired = self.desired = DesiredRepo(handlers, trees)
        convergence = self.convergence = Convergence(
            handlers,
            desired,
            applier,
            ConvergeTiming(
                interval_s=options.drift_interval_s, concurrency=options.apply_concurrency
            ),
        )
        handlers.watch = convergence
        desired.on_changed = convergence.pushed
        await desired.start()
        self.consume("device-manager", desired.handle)
        self.spawn(self._first_sync(desired), "desired-config")
        if options.drift_interval_s > 0:
            self.spawn(convergence.run_forever(self.stopping), "drift-checks")

    async def _first_sync(self, desired: DesiredRepo) -> None:
        """The branch head at start: pushes made while the service was down count too."""
        if desired.source is None:
            return
        try:
            await desired.sync()
        except Exception as exc:  # Git unreachable now: the next push or sync tries again
            log.warning("desired config not read", reason=str(exc))

    async def _scan_forever(self, run_scan: object) -> None:
        assert self.handlers is not None and callable(run_scan)
        options = self.options
        while not self.stopping.is_set():
            try:
                for found in await run_scan(options.discovery_cidrs, options.discovery_ports):
                    await self.handlers.found(found, "hearth:timer")
            except Exception as exc:
                log.warning("scheduled discovery failed", reason=str(exc))
            with suppress(TimeoutError):
                async with asyncio.timeout(options.discovery_interval_s):
                    await self.stopping.wait()

    async def on_stop(self) -> None:
        if self.mdns is not None:
            await self.mdns.stop()
        if self.convergence is not None:
            await self.convergence.stop()
        if self.handlers is not None:
            await self.handlers.stop()
        if self._session is not None:
            await self._session.close()

    def details(self) -> dict[str, object]:
        found: dict[str, object] = {}
        if self.relay is not None:
            found["relay"] = {"leader": self.relay.leader.is_set(), "position": self.relay.position}
        if self.handlers is not None:
            found["devices"] = len(self.handlers.coordinators)
        if self.convergence is not None:
            found["drift_scans"] = self.convergence.scans
        return found


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> DeviceManager:
    box = service_box(settings.scope_key, DeviceManager.name, "device passwords")
    return DeviceManager(settings, metrics, box)
