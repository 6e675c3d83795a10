"""Record the calls a function or method gets, still calling it: ``calls = spy(monkeypatch,
owner, "name")`` returns the list each call's positional arguments are appended to (a
method patched on its class receives ``self`` first)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest


def spy(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    real = getattr(owner, name)
    if inspect.iscoroutinefunction(real):

        async def recorded_async(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return await real(*args, **kwargs)

        monkeypatch.setattr(owner, name, recorded_async)
    else:

        def recorded(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, recorded)
    return calls
