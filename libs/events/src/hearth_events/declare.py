"""Declare every stream, bucket and durable consumer with admin credentials, then exit.

The compose init step: ``python -m hearth_events.declare`` with ``HEARTH_NATS_URL``,
``HEARTH_NATS_USER`` and ``HEARTH_NATS_PASSWORD``; services start once it has succeeded.
"""

from __future__ import annotations

import asyncio
import os
import sys

import nats

from hearth_events.jetstream import declare_all


async def declare(url: str, user: str | None, password: str | None) -> None:
    nc = await nats.connect(
        url, user=user, password=password, inbox_prefix=b"_INBOX_admin", connect_timeout=5
    )
    try:
        await declare_all(nc.jetstream())
    finally:
        await nc.close()


def main() -> int:
    url = os.environ.get("HEARTH_NATS_URL", "nats://127.0.0.1:4222")
    try:
        asyncio.run(
            declare(url, os.environ.get("HEARTH_NATS_USER"), os.environ.get("HEARTH_NATS_PASSWORD"))
        )
    except Exception as exc:  # one line a person can act on
        print(f"cannot declare Hearth's streams on {url}: {exc}", file=sys.stderr)
        return 1
    print(f"declared Hearth's streams, buckets and consumers on {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
