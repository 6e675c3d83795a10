"""Gen1 devices on their own loopback address, port 80 + CoIoT 5683, driven by aioshelly."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aioshelly.block_device import COAP, BlockDevice
from aioshelly.common import ConnectionOptions
from aioshelly.exceptions import InvalidAuthError

from hearth.demo.shelly.gen1 import SimGen1Device
from hearth.demo.shelly.gen1_models import GEN1_MODELS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="Gen1 needs port 80 on 127.0.0.N")


@pytest.fixture
async def coap() -> AsyncIterator[COAP]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("", 0))
        port = int(sock.getsockname()[1])
    context = COAP()
    await context.initialize(port)
    yield context
    context.close()


async def _started(kind: str, n: int) -> SimGen1Device:
    sim = SimGen1Device(GEN1_MODELS[kind], f"A0B0C0D0E0{n:02X}", f"127.0.0.{n}")
    await sim.start()
    return sim


@pytest.mark.parametrize(("kind", "n"), [("SHSW-1", 41), ("SHPLG-S", 42), ("SHDM-2", 43)])
async def test_block_device_initializes(coap: COAP, kind: str, n: int) -> None:
    sim = await _started(kind, n)
    async with aiohttp.ClientSession() as session:
        device = await BlockDevice.create(session, coap, ConnectionOptions(sim.host))
        try:
            await device.initialize()
            assert device.initialized and device.model == kind
            assert device.firmware_supported
            assert device.blocks, "CoIoT cit/d and cit/s gave no blocks"
            await device.http_request(
                "get", "settings/sta", {"enabled": 1, "ssid": "homelab", "key": "k"}
            )
            await device.http_request("get", "settings/ap", {"enabled": 0, "bogus": 1})
            await device.http_request("get", "settings", {"name": "kitchen"})
            settings = await device.http_request("get", "settings")
            assert settings["wifi_sta"]["ssid"] == "homelab" and settings["wifi_sta"]["enabled"]
            assert settings["wifi_ap"]["enabled"] is False and "key" not in settings["wifi_ap"]
            assert settings["name"] == "kitchen"
            await device.trigger_ota_update()
            assert sim.ota_requests == [{"update": "true"}]
        finally:
            await device.shutdown()
            await sim.stop()


async def test_basic_auth(coap: COAP) -> None:
    sim = await _started("SHSW-1", 44)
    async with aiohttp.ClientSession() as session:
        try:
            first = await BlockDevice.create(session, coap, ConnectionOptions(sim.host))
            await first.initialize()
            params = {"enabled": 1, "username": "admin", "password": "pw"}
            await first.http_request("get", "settings/login", params)
            await first.shutdown()
            good = ConnectionOptions(sim.host, "admin", "pw")
            device = await BlockDevice.create(session, coap, good)
            await device.initialize()
            assert device.requires_auth
            await device.shutdown()
            bad = await BlockDevice.create(session, coap, ConnectionOptions(sim.host, "admin", "x"))
            with pytest.raises(InvalidAuthError):
                await bad.initialize()
            await bad.shutdown()
        finally:
            await sim.stop()
