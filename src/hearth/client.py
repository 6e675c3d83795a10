"""The CLI's view of the query API: where it is, the token, and errors people can act on.

URL and token come from ``HEARTH_API_URL`` / ``HEARTH_API_TOKEN``, else from
``$XDG_CONFIG_HOME/hearth/cli.toml`` (``api_url = "..."``, ``token = "..."``), else the URL
of the Hearth that ``hearth up`` runs here, else ``http://127.0.0.1:8080``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from hearth.cli.state import (
    DEFAULT_API_URL,
    checked_token,
    cli_command,
    cli_config,
    config_file,
    read_state,
    setting,
)

ROLE_OF = {"POST": "operator", "GET": "viewer"}


class ApiProblem(Exception):
    """One line for the person at the terminal."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _from_file() -> dict[str, Any]:
    try:
        return cli_config()
    except ValueError as exc:
        raise ApiProblem(str(exc)) from None


@dataclass(frozen=True)
class ApiSettings:
    url: str
    token: str

    @classmethod
    def load(cls) -> ApiSettings:
        found = _from_file()
        url, url_from = setting("HEARTH_API_URL", found, "api_url")
        if not url:
            state = read_state()
            url = state["services"]["query-api"]["url"] if state else DEFAULT_API_URL
        token, token_from = setting("HEARTH_API_TOKEN", found, "token")
        if not token:
            raise ApiProblem(
                f"no API token: set HEARTH_API_TOKEN (or token in {config_file()}); "
                f"create one with `{cli_command()} token create NAME --role operator`"
            )
        return cls(_checked_url(url, url_from), _checked_token(token, token_from))


def _checked_url(url: str, source: str) -> str:
    """The API's address without a trailing slash; one line on what is wrong with it."""
    url = url.strip()
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ApiProblem(
            f"{source} must be the API's address, like http://127.0.0.1:8080, not {url!r}"
        )
    return url.rstrip("/")


def _checked_token(token: str, source: str) -> str:
    try:
        return checked_token(token, source)
    except ValueError as exc:
        raise ApiProblem(str(exc)) from None


def describe(status: int, body: Any, method: str, url: str) -> str:
    detail = body.get("detail") or body.get("error") if isinstance(body, dict) else None
    detail = detail or (str(body)[:200] if body else "")
    if status == 401:
        return (
            f"the API at {url} refused the token ({detail}); create one with "
            f"`{cli_command()} token create NAME --role operator` and set HEARTH_API_TOKEN"
        )
    if status == 403:
        # The API's answer already names the role needed and the token's: say it once.
        needed = ROLE_OF.get(method, "admin")
        return detail or f"this token's role may not do that; it needs {needed}"
    return f"{detail or 'refused'} (HTTP {status})"


class ApiClient:
    def __init__(self, settings: ApiSettings, *, timeout: float = 15) -> None:
        self.settings = settings
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self.settings.token}"}
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use `async with ApiClient(...)`"
        return self._session

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any
    ) -> Any:
        url = self.settings.url + path
        query = {k: str(v) for k, v in params.items() if v is not None}
        try:
            async with self.session.request(
                method, url, json=body, params=query, timeout=self._timeout
            ) as reply:
                text = await reply.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiProblem(
                f"cannot reach the Hearth API at {self.settings.url}: "
                f"{type(exc).__name__} {exc}".rstrip()
                + f" (is `{cli_command()} up` running? set HEARTH_API_URL)"
            ) from None
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        if reply.status >= 400:
            raise ApiProblem(
                describe(reply.status, parsed, method, self.settings.url), reply.status
            )
        return parsed
