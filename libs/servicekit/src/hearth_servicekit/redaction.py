"""Known secret values, replaced by ``***`` wherever text leaves the process.

A service ``remember``s every secret value it decrypts (``SecretStore.get`` does it), and
``redact`` replaces each known value in a text: as-is, URL-quoted (a token in a URL's
query or userinfo) and, for a multi-line value such as a private key, each of its long
lines (a command's output is logged line by line), for a URL its long parts (a library
may print an Apprise URL's token alone). Log lines (``logging.py``), command replies
(``commands.py``) and the events a service records or publishes (``HearthAggregate.record``,
``JetStreamSink.publish``) pass through it; fields that hold secret *names* are left alone.

Values shorter than ``MIN_LENGTH`` are not remembered: a 3-character "secret" would turn
every word containing it into ``***``. The registry lives for the process; it only grows.
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from hearth_events import EventData

MIN_LENGTH = 6
_PART = 16  # a line of a multi-line value, or a part of a URL value, remembered on its own
MASK = "***"

_lock = threading.Lock()
#: The values remembered so far as they were given: a value a service decrypts again (every
#: deployment reads its SSH key) is not turned into its forms again.
_given: frozenset[str] = frozenset()
_known: frozenset[str] = frozenset()
_ordered: tuple[str, ...] = ()  # longest first, so a value inside another goes second
#: Each known value as it reads inside a JSON string (UTF-8), or None when the fast check of
#: :func:`json_may_hold_secret` cannot vouch for its escaping (control characters): then it
#: never skips.
_in_json: tuple[bytes, ...] | None = ()

Data = TypeVar("Data", bound=EventData)
Value = TypeVar("Value", bytes, str)


def _forms(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote_plus(value), quote(value)}
    lines = [line.strip() for line in value.splitlines()]
    forms.update(line for line in lines if len(line) >= _PART and not line.startswith("-----"))
    forms.update(_url_parts(value))
    return {form for form in forms if len(form) >= MIN_LENGTH}


def _url_parts(value: str) -> set[str]:
    """The long parts of a URL secret (an Apprise URL's token is a path segment; a library
    may print it alone): userinfo, path segments and query values of 16+ characters."""
    if "://" not in value or "\n" in value:
        return set()
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return set()
    userinfo = parts.netloc.rpartition("@")[0]
    pieces = [*userinfo.split(":"), *parts.path.split("/")]
    pieces += [v for _, v in parse_qsl(parts.query, keep_blank_values=True)]
    return {piece for piece in pieces if len(piece) >= _PART}


def remember(value: Value) -> Value:
    """Redact ``value`` (and its likely encodings) from everything this process emits;
    returns ``value``, so a caller can remember what it returns in one expression."""
    global _given, _known, _ordered, _in_json
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if text in _given or len(text.strip()) < MIN_LENGTH:
        return value
    forms = _forms(text) | _forms(text.strip())
    with _lock:
        _given = _given | {text}
        if not forms <= _known:
            _known = _known | forms
            _ordered = tuple(sorted(_known, key=len, reverse=True))
            _in_json = _json_forms(_ordered)
    return value


def _json_forms(values: tuple[str, ...]) -> tuple[bytes, ...] | None:
    """``"`` and ``\\`` are escaped alike by every JSON writer; anything else that is
    escaped (control characters) is written differently by different ones. A value that
    is not valid Unicode (a lone surrogate) has no UTF-8 form to look for."""
    if any(ord(c) < 0x20 for value in values for c in value):
        return None
    try:
        return tuple(v.replace("\\", "\\\\").replace('"', '\\"').encode() for v in values)
    except UnicodeEncodeError:
        return None


def forget_all() -> None:
    """For tests: start again with no known values."""
    global _given, _known, _ordered, _in_json
    with _lock:
        _given, _known, _ordered, _in_json = frozenset(), frozenset(), (), ()


def redact(text: str) -> str:
    """``text`` with every known secret value replaced by ``***``."""
    for value in _ordered:
        if value in text:
            text = text.replace(value, MASK)
    return text


#: Fields that hold secret *names* (public by contract, validated as names): a value that
#: happens to equal its own name must not turn a declaration's reference into ``***``.
_NAME_FIELDS = frozenset({"urls", "default_urls", "waiting_for"})


def _names_secrets(key: object) -> bool:
    return isinstance(key, str) and (key.endswith("_secret") or key in _NAME_FIELDS)


def redact_value(value: Any) -> Any:
    """Strings anywhere in nested dicts, lists and tuples redacted; the rest as it was."""
    if not _ordered:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: v if _names_secrets(k) else redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v) for v in value)
    return value


def json_may_hold_secret(text: bytes) -> bool:
    """False when no known secret value can be in any string of this UTF-8 JSON text (an
    event's own dump, or an envelope's around it), so the event needs no field-by-field
    check: escaping works character by character, so a value inside a string is inside the
    text (a key, or a value spanning two fields, can only make this say True, and
    :func:`redact_data` then checks every field). A sink that publishes the event's JSON
    asks this of the bytes it publishes, and dumps the event only once."""
    if not _ordered:
        return False
    in_json = _in_json
    return in_json is None or any(value in text for value in in_json)


def redact_data(data: Data) -> Data:
    """An event with every known secret value removed from every field, however nested."""
    if not _ordered or not json_may_hold_secret(data.model_dump_json().encode()):
        return data
    dumped = data.model_dump(mode="json")
    cleaned = redact_value(dumped)
    if cleaned == dumped:
        return data
    return type(data).model_validate(cleaned)
