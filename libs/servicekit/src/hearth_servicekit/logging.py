"""Structured logs: JSON when not on a terminal, every line tagged with the service.

structlog and the standard library (nats, aiohttp, psycopg log through it) share one
handler, so every line has the same shape and passes the same secret filter: a value under
a secret-sounding key name (at any depth of nested dicts, lists and tuples) becomes ``***``,
and every secret value the process has decrypted (``redaction.remember``) is replaced by
``***`` in every string, in the exception text and traceback, and in the rendered line.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

from hearth_servicekit.redaction import MASK, redact, redact_value

_SECRET_WORDS = ("password", "secret", "token", "private_key", "authorization", "dsn")


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _secret_sounding(key)


@functools.lru_cache(maxsize=4096)
def _secret_sounding(key: str) -> bool:
    """Asked of every key of every line, twice: a service logs few distinct keys, so each
    is judged once (the webhook gateway logs a line per delivery)."""
    return any(word in key.lower() for word in _SECRET_WORDS)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):  # nearly every value of a line: the shortest way first
        return redact_value(value)
    if isinstance(value, dict):
        return {k: MASK if _is_secret_key(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    return redact_value(value)


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Secrets never reach a log line, whatever a caller passes by mistake."""
    for key, value in list(event.items()):
        if _is_secret_key(key):
            event[key] = MASK
        elif isinstance(value, str):  # nearly every value of a line: the shortest way
            event[key] = redact(value)
        elif key != "exc_info":  # rendered (and redacted) by format_exc_info and the next pass
            event[key] = _scrub(value)
    return event


#: What the formatter adds to a line after ``redact_secrets`` ran in the chain: the
#: traceback text (``format_exc_info``) and the stack (``StackInfoRenderer``).
_ADDED_LATE = ("exception", "stack")


def redact_added_late(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The traceback and stack texts, redacted; every other field was already (the chain's
    ``redact_secrets``, or the foreign chain's for a standard-library record), so a line
    is not scrubbed twice (the webhook gateway logs one per delivery)."""
    for key in _ADDED_LATE:
        value = event.get(key)
        if isinstance(value, str):
            event[key] = redact(value)
    return event


def _redacted(renderer: Any) -> Any:
    """The rendered line, with known secret values removed once more (a value the
    renderer assembled from parts, or quoted differently, is caught here)."""

    def render(logger: Any, name: str, event: dict[str, Any]) -> Any:
        line = renderer(logger, name, event)
        return redact(line) if isinstance(line, str) else line

    return render


def _dumps(obj: Any, **kwargs: Any) -> str:
    """A line as compact JSON through orjson (a fifth of a log line's cost with the
    standard library's encoder); json.dumps for what orjson cannot write (an integer over
    64 bits)."""
    try:
        return orjson.dumps(
            obj, default=kwargs.get("default"), option=orjson.OPT_NON_STR_KEYS
        ).decode()
    except TypeError:
        return json.dumps(obj, **kwargs)


def configure_logging(service: str, *, level: str = "info", fmt: str | None = None) -> None:
    json_output = (fmt or ("console" if sys.stderr.isatty() else "json")) == "json"
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if json_output
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    # The level, logger name and time are added after the secret filter: they are ours.
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        redact_secrets,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_added_late,  # the traceback text format_exc_info just made
                _redacted(renderer),
            ],
        )
    )
    # No line shows the thread or process fields of a LogRecord: do not look them up for
    # each record (the documented switches of the logging module's own optimisation notes).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None  # nor where each call was made from (a stack walk per record)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.getLevelNamesMapping().get(level.upper(), logging.INFO))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str = "hearth") -> Any:
    return structlog.get_logger(name)
