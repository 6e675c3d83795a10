"""Every place a secret could end up, read whole, to prove a canary is in none of them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from nats.js.errors import NotFoundError
from psycopg import sql


async def stream_texts(js: Any) -> dict[str, str]:
    """Every message of every JetStream stream (data and headers), by ``stream:seq``."""
    found: dict[str, str] = {}
    for info in await js.streams_info():
        name, state = info.config.name, info.state
        if not state.messages:
            continue
        for seq in range(max(state.first_seq, 1), state.last_seq + 1):
            try:
                message = await js.get_msg(name, seq)
            except NotFoundError:  # deleted or expired
                continue
            data = (message.data or b"").decode("utf-8", "replace")
            found[f"{name}:{seq}"] = f"{message.subject} {message.headers} {data}"
    return found


def table_texts(database_url: str) -> dict[str, str]:
    """Every row of every table in every schema of the database (the event store's and the
    read models'), bytes decoded, by ``schema.table``."""
    found: dict[str, str] = {}
    with psycopg.connect(database_url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
            "AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            rows = conn.execute(query).fetchall()
            found[f"{schema}.{table}"] = "\n".join(_text(row) for row in rows)
    return found


def _text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, tuple | list):
        return " ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def file_texts(paths: Iterable[Path]) -> dict[str, str]:
    return {str(p): p.read_text(errors="replace") for p in paths if p.is_file()}


def hits(surfaces: dict[str, str], canaries: Iterable[str]) -> list[str]:
    """``surface: canary`` for every canary found; empty when nothing leaked."""
    wanted = [c for c in canaries if c]
    return [
        f"{where}: {canary[:24]}"
        for where, text in surfaces.items()
        for canary in wanted
        if canary in text
    ]


def key_lines(private_key: str) -> list[str]:
    """The lines of a private key that identify it (not its BEGIN/END markers)."""
    lines = [line.strip() for line in private_key.splitlines()]
    return [line for line in lines if len(line) >= 16 and not line.startswith("-----")]


@contextlib.contextmanager
def logs_to(path: Path, service: str) -> Iterator[Path]:
    """This process's logs, configured as a service configures them, written to ``path``."""
    import logging

    from hearth_servicekit.logging import configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    with path.open("w") as stream:
        configure_logging(service, level="debug", fmt="json")
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        try:
            yield path
        finally:
            root.handlers[:], level = saved
            root.setLevel(level)
