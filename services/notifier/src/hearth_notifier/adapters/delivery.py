"""Deliver a message to one Apprise URL, with retries; report the scheme, never the URL."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Protocol

import apprise

from hearth_notifier.domain.messages import Message

RETRY_DELAYS_S = (1.0, 2.0, 4.0)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)


class DeliveryFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Deliverer(Protocol):
    async def prepare(self) -> None:
        """Load what delivering needs, before the notifier says it is ready."""

    async def deliver(self, url: str, message: Message) -> None:
        """Send or raise DeliveryFailed."""


def load_plugins() -> None:
    """Apprise finds its plugins (about 120) by importing every one of them the first time
    it reads a URL: about a second of CPU on a small machine, several under load. Done in
    the event loop (the first route checked, the first message sent), it stalled every
    consumer and command of the notifier meanwhile; a route applied then could time out."""
    apprise.Apprise.instantiate("json://localhost")


def scheme_of(url: str) -> str:
    """The service scheme (``discord``, ``mailto``), safe to show: URLs carry tokens."""
    found = _SCHEME.match(url)
    return found.group(1).lower() if found else "unknown"


def check_url(url: str) -> str | None:
    """Why ``url`` is not a usable Apprise URL, or None when it is."""
    if not _SCHEME.match(url):
        return "not a URL (expected scheme://...)"
    if apprise.Apprise.instantiate(url) is None:
        return f"unknown or malformed Apprise URL for scheme {scheme_of(url)!r}"
    return None


class AppriseDeliverer:
    def __init__(self) -> None:
        self._plugins: dict[str, apprise.plugins.NotifyBase] = {}

    async def prepare(self) -> None:
        await asyncio.to_thread(load_plugins)

    async def deliver(self, url: str, message: Message) -> None:
        plugin = self._plugins.get(url)
        if plugin is None:
            plugin = apprise.Apprise.instantiate(url)
            if plugin is None:
                raise DeliveryFailed(f"{scheme_of(url)}: not a valid Apprise URL", permanent=True)
            self._plugins[url] = plugin
        accepted = await plugin.async_notify(
            body=message.body,
            title=message.title,
            notify_type=apprise.NotifyType(message.notify_type),
            body_format=apprise.NotifyFormat.MARKDOWN,
        )
        if not accepted:
            raise DeliveryFailed(f"{scheme_of(url)} did not accept the notification")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    attempts: int
    reason: str = ""


async def deliver_with_retries(
    deliverer: Deliverer,
    url: str,
    message: Message,
    delays: tuple[float, ...] = RETRY_DELAYS_S,
) -> Outcome:
    attempt = 0
    while True:
        attempt += 1
        try:
            await deliverer.deliver(url, message)
        except DeliveryFailed as exc:
            if exc.permanent or attempt > len(delays):
                return Outcome(False, attempt, str(exc))
            await asyncio.sleep(delays[attempt - 1])
        else:
            return Outcome(True, attempt)
