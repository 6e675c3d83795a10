"""Subject names: ``hearth.evt.<context>.<EventType>.<key>`` and friends.

Keys are escaped so that any repository name, target name or device id is exactly one
subject token: ``home.assistant-config`` becomes ``home%2Eassistant-config``. The escape is
reversible (``unescape_token``) and leaves ordinary names readable.
"""

from __future__ import annotations

import re
import string

EVENTS_PREFIX = "hearth.evt"
COMMANDS_PREFIX = "hearth.cmd"
TASKS_PREFIX = "hearth.task"

CONTEXTS = ("git", "target", "deploy", "device", "provision", "notify")

# Kept as-is in a token: letters, digits and punctuation NATS gives no meaning to.
_SAFE = frozenset(string.ascii_letters + string.digits + "-_/:@+=,;!'()~&$#")
_ESCAPE = re.compile(r"%([0-9A-F]{2})")
_PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")


class SubjectError(ValueError):
    """A subject part that cannot be used."""


def escape_token(key: str) -> str:
    """Escape ``key`` into a single NATS subject token (percent-encoding of UTF-8 bytes)."""
    if not key:
        raise SubjectError("an event key must not be empty")
    out: list[str] = []
    for char in key:
        if char in _SAFE:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def unescape_token(token: str) -> str:
    """Invert :func:`escape_token`."""
    if "%" not in token:
        return token
    data = bytearray()
    i = 0
    while i < len(token):
        if token[i] == "%" and _ESCAPE.match(token, i):
            data.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            data.extend(token[i].encode("utf-8"))
            i += 1
    return data.decode("utf-8")


def event_subject(context: str, event_type: str, key: str) -> str:
    """``hearth.evt.<context>.<EventType>.<escaped key>``."""
    if context not in CONTEXTS:
        raise SubjectError(f"unknown event context {context!r}; expected one of {CONTEXTS}")
    if not _PASCAL.match(event_type):
        raise SubjectError(f"event type {event_type!r} must be a PascalCase class name")
    return f"{EVENTS_PREFIX}.{context}.{event_type}.{escape_token(key)}"


def event_filter(context: str = "*", event_type: str = "*", key: str | None = None) -> str:
    """A subscription filter such as ``hearth.evt.deploy.*.>`` or one for a single key."""
    tail = ">" if key is None else escape_token(key)
    return f"{EVENTS_PREFIX}.{context}.{event_type}.{tail}"


def parse_event_subject(subject: str) -> tuple[str, str, str]:
    """Split an event subject into (context, event type, unescaped key)."""
    parts = subject.split(".")
    if len(parts) != 5 or ".".join(parts[:2]) != EVENTS_PREFIX:
        raise SubjectError(f"{subject!r} is not a hearth event subject")
    return parts[2], parts[3], unescape_token(parts[4])


def command_subject(context: str, command: str) -> str:
    """``hearth.cmd.<context>.<Command>`` for request/reply commands."""
    if not _PASCAL.match(command):
        raise SubjectError(f"command {command!r} must be PascalCase")
    return f"{COMMANDS_PREFIX}.{context}.{command}"


def provision_task_subject(site: str) -> str:
    """``hearth.task.provision.<site>``: onboarding work for the agents at one site."""
    return f"{TASKS_PREFIX}.provision.{escape_token(site)}"
