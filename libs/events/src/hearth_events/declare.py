"""Declare every stream, bucket and durable consumer with admin credentials, then exit.

The compose init step: ``python -m hearth_events.declare`` with ``HEARTH_NATS_URL``,
``HEARTH_NATS_USER`` and ``HEARTH_NATS_PASSWORD``; services start once it has succeeded.
``HEARTH_STREAM_REPLICAS`` (default 1) is how many servers of a NATS cluster store each
stream and bucket: 3 on a 3-node cluster (compose's ``cluster`` profile, Kubernetes).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping

import nats

from hearth_events.jetstream import declare_all

REPLICAS_VARIABLE = "HEARTH_STREAM_REPLICAS"


def replicas_from(env: Mapping[str, str]) -> int:
    """``HEARTH_STREAM_REPLICAS``: 1 to 5 (JetStream's limit), 1 when unset."""
    raw = env.get(REPLICAS_VARIABLE, "").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 5:
        raise ValueError(f"{REPLICAS_VARIABLE} must be a number from 1 to 5, not {raw!r}")
    return int(raw)


async def declare(url: str, user: str | None, password: str | None, replicas: int = 1) -> None:
    servers = [u.strip() for u in url.split(",") if u.strip()]
    nc = await nats.connect(
        servers, user=user, password=password, inbox_prefix=b"_INBOX_admin", connect_timeout=5
    )
    try:
        await declare_all(nc.jetstream(), replicas=replicas)
    finally:
        await nc.close()


def main() -> int:
    url = os.environ.get("HEARTH_NATS_URL", "nats://127.0.0.1:4222")
    try:
        replicas = replicas_from(os.environ)
        asyncio.run(
            declare(
                url,
                os.environ.get("HEARTH_NATS_USER"),
                os.environ.get("HEARTH_NATS_PASSWORD"),
                replicas,
            )
        )
    except Exception as exc:  # one line a person can act on
        print(f"cannot declare Hearth's streams on {url}: {exc}", file=sys.stderr)
        return 1
    print(f"declared Hearth's streams, buckets and consumers on {url} (replicas {replicas})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
