"""Apply: send a device only the fields that differ from Git, then read it back.

Secrets (Wi-Fi, MQTT passwords) travel as ``SecretRef`` until here, where they are read from
the secret store (scope device-manager) and put into the calls; they are never logged and
never part of an event. A device that says ``restart_required`` is rebooted and waited for.
A device that drops the connection mid-apply (it rebooted, or Wi-Fi blinked) is waited for
and the rest is sent again: its config is read anew, so only what still differs travels.
Every apply ends with ``DeviceConfigApplied`` after a read-back shows no difference, or with
``DeviceConfigApplyFailed`` naming the device's own error and what still differs.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from hearth_device_manager.adapters.ports import Call, DeviceLink, Snapshots
from hearth_device_manager.domain.desired import (
    DesiredDevice,
    SecretRef,
    changes_to_apply,
    diff,
    from_device,
)
from hearth_device_manager.domain.device import Device
from hearth_device_manager.domain.errors import DeviceError, Unreachable
from hearth_device_manager.handlers import DeviceHandlers, Secrets
from hearth_events.catalogue import FieldDiff
from hearth_eventstore.store import Meta
from hearth_servicekit import get_logger

log = get_logger("hearth.device_manager")


class MissingSecret(Exception):
    pass


def cfg_rev(tree: dict[str, Any]) -> int | None:
    """``sys.cfg_rev`` of a status or a config (None when the device reports none)."""
    sys = tree.get("sys")
    rev = sys.get("cfg_rev") if isinstance(sys, dict) else None
    return rev if isinstance(rev, int) else None


@dataclass(frozen=True)
class ApplyTiming:
    comeback_s: float = 60.0  # HEARTH_APPLY_COMEBACK_S: a rebooting device's time to return
    attempts: int = 3  # sends of one apply when the device drops the connection


@dataclass
class Attempt:
    diffs: list[FieldDiff]
    raw: dict[str, Any]
    error: str = ""
    #: False when the device dropped before its config could be read back.
    confirmed: bool = True


class Applier:
    def __init__(
        self,
        devices: DeviceHandlers,
        secrets: Secrets,
        snapshots: Snapshots,
        timing: ApplyTiming | None = None,
    ) -> None:
        self._devices = devices
        self._secrets = secrets
        self._snapshots = snapshots
        self.timing = timing or ApplyTiming()
        self._relinks: dict[str, asyncio.Event] = {}

    # -- connections ----------------------------------------------------------------------
    def link(self, device_id: str) -> DeviceLink | None:
        entry = self._devices.coordinators.get(device_id)
        return entry[0].link if entry is not None else None

    def relinked(self, device_id: str) -> None:
        event = self._relinks.get(device_id)
        if event is not None:
            event.set()

    async def _relink(self, device_id: str, old: DeviceLink | None) -> DeviceLink:
        """The device's next connection (not ``old``), once it is back."""
        event = self._relinks.setdefault(device_id, asyncio.Event())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timing.comeback_s
        while True:
            event.clear()
            link = self.link(device_id)
            if link is not None and link is not old:
                return link
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise Unreachable(
                    f"{device_id}: did not come back within {self.timing.comeback_s:g}s"
                )
            with suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await event.wait()

    # -- apply --------------------------------------------------------------------------------
    async def apply(
        self,
        device: Device,
        desired: DesiredDevice,
        diffs: list[FieldDiff],
        raw: dict[str, Any],
        meta: Meta,
    ) -> dict[str, Any]:
        await self._snapshots.take(device.device_id, "before_apply")
        fields = [d.path for d in diffs]
        state = await self._attempts(device.device_id, desired, Attempt(diffs, raw))
        store = self._devices.store
        if state.diffs or state.error:
            reason = _failure(state, fields)
            log.warning("apply failed", device=device.device_id, reason=reason)
            await store.write(store.app.act, device.mac, lambda d: d.apply_failed(reason, meta))
            if state.diffs:
                remaining = state.diffs
                await store.write(store.app.act, device.mac, lambda d: d.drifted(remaining, meta))
            return {"result": "failed", "reason": reason}

        def done(d: Device) -> None:
            d.applied(fields, d.desired_commit, meta)
            d.drift_resolved("applied", meta)

        await store.write(store.app.act, device.mac, done)
        log.info("config applied", device=device.device_id, fields=fields)
        await self.ensure_password(device, desired, meta)
        return {"result": "applied", "fields": fields, "cfg_rev": cfg_rev(state.raw)}

    async def _attempts(self, device_id: str, desired: DesiredDevice, state: Attempt) -> Attempt:
        link = self.link(device_id)
        dead: DeviceLink | None = None
        for attempt in range(self.timing.attempts):
            try:
                if link is None:
                    link = await self._relink(device_id, dead)
                if attempt:  # after a drop: send only what still differs
                    state = Attempt(*await self._read(link, desired))
                    if not state.diffs:
                        return state
                actual = from_device(state.raw, desired.spec)
                calls = changes_to_apply(state.diffs, desired.spec, desired.config, actual)
                if await link.send(await self._resolve(calls)):
                    with suppress(Unreachable):
                        await link.reboot()
                    link = await self._relink(device_id, link)
                diffs, raw = await self._read(link, desired)
                error = "" if not diffs else "the device kept other values after the apply"
                return Attempt(diffs, raw, error)
            except Unreachable as exc:  # rebooted, or gone: wait for its next connection
                state.error, state.confirmed = str(exc), False
                dead, link = link or dead, None
            except (DeviceError, MissingSecret) as exc:
                state.error = str(exc)
                return state
        return state

    async def _read(
        self, link: DeviceLink, desired: DesiredDevice
    ) -> tuple[list[FieldDiff], dict[str, Any]]:
        raw = await link.read_config()
        return diff(desired.config, from_device(raw, desired.spec), desired.sources), raw

    async def _resolve(self, calls: list[Call]) -> list[Call]:
        return [(method, await self._fill(params)) for method, params in calls]

    async def _fill(self, value: Any) -> Any:
        if isinstance(value, SecretRef):
            secret = await self._secrets.get(value.name)
            if secret is None:
                raise MissingSecret(f"secret {value.name} is not stored (scope device-manager)")
            return secret.decode()
        if isinstance(value, dict):
            return {k: await self._fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [await self._fill(v) for v in value]
        return value

    # -- the admin password from Git --------------------------------------------------------
    async def ensure_password(self, device: Device, desired: DesiredDevice, meta: Meta) -> None:
        """Set the admin password Git names when Hearth uses another; then use it."""
        name = desired.password_secret
        if name is None or name == device.password_secret:
            return
        store = self._devices.store
        secret = await self._secrets.get(name)
        link = self.link(device.device_id)
        if secret is None or link is None:
            if secret is None:
                reason = f"admin password: secret {name} is not stored (scope device-manager)"
                await store.write(store.app.act, device.mac, lambda d: d.apply_failed(reason, meta))
            return
        try:
            await link.set_password(secret.decode())
        except DeviceError as exc:
            reason = f"admin password not set: {exc}"
            await store.write(store.app.act, device.mac, lambda d: d.apply_failed(reason, meta))
            return
        fresh = await store.read(store.app.device, device.mac)
        await self._devices.adopt(fresh or device, device.name or desired.name, name, meta.actor)
        log.info("admin password set", device=device.device_id, secret=name)


def _failure(state: Attempt, fields: list[str]) -> str:
    """The device's error and where the fields stand as last read from it."""
    still = [d.path for d in state.diffs]
    reason = state.error or "the device kept other values after the apply"
    if still and not state.confirmed:
        reason += f"; not confirmed: {', '.join(still)}"
    elif still:
        done = [f for f in fields if f not in still]
        reason += f"; still differing: {', '.join(still)}"
        if done:
            reason += f"; applied: {', '.join(done)}"
    return reason
