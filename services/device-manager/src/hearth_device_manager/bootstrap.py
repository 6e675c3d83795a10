"""Composition root of the device-manager service: the only place that wires real adapters
(aioshelly, zeroconf, HTTP scans, NATS KV); tests pass fakes to the handlers instead."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from pathlib import Path
from typing import ClassVar

import aiohttp
from aioshelly.rpc_device import WsServer
from zeroconf.asyncio import AsyncZeroconf

from hearth_device_manager.adapters.coiot import Coiot
from hearth_device_manager.adapters.coordinator import Backoff, Sleep
from hearth_device_manager.adapters.gen1 import Gen1Connector
from hearth_device_manager.adapters.gitrepo import GitTrees
from hearth_device_manager.adapters.mdns import MdnsBrowser
from hearth_device_manager.adapters.probe import HttpProber
from hearth_device_manager.adapters.scanner import scan
from hearth_device_manager.adapters.shelly import ShellyConnector
from hearth_device_manager.adapters.status_kv import KvStatusWriter
from hearth_device_manager.adapters.store import SCHEMA, DeviceManagerApplication, DeviceStore
from hearth_device_manager.adapters.wake import Wakes
from hearth_device_manager.domain.device import Found
from hearth_device_manager.entrypoints.commands import DeviceCommands
from hearth_device_manager.entrypoints.fleet_commands import FleetCommands
from hearth_device_manager.handlers import DeviceHandlers, Timing
from hearth_device_manager.settings import DeviceManagerSettings
from hearth_device_manager.workflows.apply import Applier, ApplyTiming
from hearth_device_manager.workflows.desired_sync import DesiredRepo
from hearth_device_manager.workflows.drift import Convergence, ConvergeTiming
from hearth_device_manager.workflows.fleet import FirmwareWatch, Fleet, Operations, Snapshots
from hearth_device_manager.workflows.rollout import OtaEvents, RolloutRunner
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
        self.snapshots: Snapshots | None = None
        self.rollouts: RolloutRunner | None = None
        self.firmware_watch: FirmwareWatch | None = None
        self.mdns: MdnsBrowser | None = None
        self._session: aiohttp.ClientSession | None = None
        self.status_writer: KvStatusWriter | None = None
        self.coiot: Coiot | None = None
        self.ws_server: WsServer | None = None
        self.desired: DesiredRepo | None = None
        self.convergence: Convergence | None = None

    async def on_start(self) -> None:
        self.app = await open_when_reachable(self, DeviceManagerApplication, SCHEMA)
        self.relay = start_relay(self, self.app)
        options = self.options
        # Every Gen2+ device holds one WebSocket for its whole life: aiohttp's default pool
        # (100 connections) would starve device 101 and every probe after it. Our own
        # semaphores bound how many connect and probe at once.
        session = self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        prober = HttpProber(session, options.scan_timeout_s)
        timing = Timing(
            presence_window_s=options.presence_window_s,
            backoff=Backoff(
                first_s=options.reconnect_first_s,
                max_s=options.reconnect_max_s,
                credentials_s=options.wrong_credentials_retry_s,
            ),
            connect_concurrency=options.connect_concurrency,
            sleep=Sleep(grace=options.sleep_grace, default_period_s=options.sleep_period_s),
        )
        if self._box is None:
            self._box = service_box(self.settings.scope_key, self.name, "device passwords")
        self.status_writer = KvStatusWriter(self.js)
        secrets = SecretStore(self.js, self._box)
        ota = OtaEvents()
        handlers = self.handlers = DeviceHandlers(
            DeviceStore(self.app),
            ShellyConnector(session, self._gen1_connector(session, ota), on_event=ota.event),
            self.status_writer,
            secrets,
            timing=timing,
            wakes=await self._wakes(),
        )
        fleet = Fleet(handlers)
        self.snapshots = Snapshots(fleet)
        self.firmware_watch = FirmwareWatch(fleet)
        handlers.status_hooks.append(self.firmware_watch.status)
        await self._start_desired_config(handlers, secrets)
        await handlers.start()
        rollouts = self.rollouts = RolloutRunner(
            fleet, self.snapshots, ota, verify_s=options.firmware_verify_s
        )
        if self.desired is not None:  # a rollout without a channel takes the group's
            rollouts.channels = self.desired.channel_of
        await FleetCommands(self.snapshots, Operations(fleet, self.snapshots), rollouts).serve(
            self.nc, queue=self.name
        )
        await rollouts.resume()

        async def run_scan(cidrs: list[str], ports: list[int]) -> list[Found]:
            return await scan(prober, cidrs, ports, concurrency=options.scan_concurrency)

        self.commands = DeviceCommands(
            handlers,
            run_scan,
            prober,
            options.discovery_ports,
            options.scan_concurrency,
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

    async def _wakes(self) -> Wakes:
        """Wake-ups of sleeping devices: CoIoT, and the WebSocket endpoint if configured."""
        assert self.coiot is not None
        options = self.options
        if options.wake_ws_port is not None:
            self.ws_server = WsServer()
            await self.ws_server.initialize(options.wake_ws_port)
        return Wakes(self.coiot, self.ws_server, options.wake_ws_url)

    def _gen1_connector(self, session: aiohttp.ClientSession, ota: OtaEvents) -> Gen1Connector:
        options = self.options
        self.coiot = Coiot(options.coiot_port)
        return Gen1Connector(
            session,
            self.coiot,
            poll_s=options.gen1_poll_s,
            coiot_peer=options.coiot_peer,
            on_event=ota.event,
        )

    async def _start_desired_config(self, handlers: DeviceHandlers, secrets: SecretStore) -> None:
        """Desired config from Git, drift and apply (docs/devices.md)."""
        options = self.options
        assert self.snapshots is not None
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
        if self.rollouts is not None:
            await self.rollouts.stop()
        if self.firmware_watch is not None:
            await self.firmware_watch.stop()
        if self.handlers is not None:
            await self.handlers.stop()
        if self.status_writer is not None:
            await self.status_writer.close()
        if self._session is not None:
            await self._session.close()
        if self.coiot is not None:
            self.coiot.close()
        if self.ws_server is not None:
            self.ws_server.close()

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
