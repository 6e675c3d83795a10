"""Errors a person can act on: one line with the file and the line of the offending key."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hearth_device_manager.domain.desired.lines import line_of
from hearth_device_manager.domain.desired.tree import Path


@dataclass(frozen=True)
class ConfigError:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def field_error(file: str, lines: dict[Path, int], path: Path, message: str) -> ConfigError:
    return ConfigError(file, line_of(lines, path), f"field '{'.'.join(path)}' — {message}")


_AT = re.compile(r"\s*\(at line (\d+), column \d+\)$")


def syntax_error(file: str, error: tomllib.TOMLDecodeError) -> ConfigError:
    text = str(error)
    found = _AT.search(text)
    line = int(found.group(1)) if found else 1
    message = _AT.sub("", text)
    return ConfigError(file, line, f"TOML syntax error — {message[:1].lower()}{message[1:]}")


def _describe(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    message = str(error["msg"])
    message = message[:1].lower() + message[1:]
    value = error.get("input")
    if isinstance(value, dict | list):
        return message
    return f"{message}, got {value!r}"


def validation_errors(
    file: str, lines: dict[Path, int], error: ValidationError, prefix: Path = ()
) -> list[ConfigError]:
    found = []
    for item in error.errors():
        path = (*prefix, *(str(p) for p in item["loc"] if p != "[key]"))
        found.append(field_error(file, lines, path, _describe(item)))
    return found
