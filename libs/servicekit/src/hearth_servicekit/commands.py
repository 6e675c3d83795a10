"""Request/reply commands on ``hearth.cmd.<context>.<Command>``.

A handler gets the validated request and returns the reply's fields; the reply is always
JSON ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``, with every secret value the
process decrypted redacted. Instances of a service share a queue group, so each command is
handled once.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hearth_servicekit.logging import get_logger
from hearth_servicekit.redaction import redact_value

log = get_logger("hearth.commands")

Request = TypeVar("Request", bound=BaseModel)


class CommandRejected(Exception):
    """The command is understood but refused; the message tells the person why."""


def describe_validation(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(request)"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


async def serve_command(
    nc: Any,
    subject: str,
    request_model: type[Request],
    handler: Callable[[Request], Awaitable[dict[str, Any]]],
    *,
    queue: str,
) -> Any:
    """Subscribe ``handler`` to ``subject``; returns the subscription."""

    async def on_message(message: Any) -> None:
        try:
            request = request_model.model_validate_json(message.data)
            reply: dict[str, Any] = {"ok": True, **(await handler(request))}
        except ValidationError as exc:
            reply = {"ok": False, "error": f"invalid request: {describe_validation(exc)}"}
        except CommandRejected as exc:
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:
            log.exception("command failed", subject=subject)
            reply = {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}
        if message.reply:  # an error's text may quote a value the handler decrypted
            await message.respond(json.dumps(redact_value(reply)).encode())

    subscription = await nc.subscribe(subject, queue=queue, cb=on_message)
    # Until the server has the SUB, a request gets "no responders": a service that says it
    # started must already answer. nats-py writes flush()'s PING straight to the socket,
    # ahead of the SUB still queued for its flusher task, so the first PONG proves nothing;
    # the second PING leaves after the SUB and its PONG does.
    await nc.flush()
    await nc.flush()
    return subscription
