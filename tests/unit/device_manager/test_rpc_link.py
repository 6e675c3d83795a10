"""RpcLink maps every way aioshelly fails to the device manager's few domain errors."""

from __future__ import annotations

import aiohttp
import pytest
from aioshelly.common import ConnectionOptions
from aioshelly.rpc_device import RpcDevice

from hearth_device_manager.adapters.shelly import RpcLink
from hearth_device_manager.domain.errors import Unreachable


async def test_a_call_on_a_closed_socket_is_unreachable_not_a_crash() -> None:
    """aioshelly raises a bare RuntimeError("Not connected") when the device's socket has
    just closed (a device rebooting mid-apply); the apply must see ``Unreachable`` and wait
    for the device to come back, not end the drift check with a traceback."""
    async with aiohttp.ClientSession() as session:
        device = await RpcDevice.create(session, None, ConnectionOptions("127.0.0.1", port=9))
        link = RpcLink(device, "shellyplus1pm-a0b0c0000001")
        with pytest.raises(Unreachable, match="Not connected"):
            await link.read_config()
        with pytest.raises(Unreachable):
            await link.send([("Switch.SetConfig", {"id": 0, "config": {"auto_off": True}})])
