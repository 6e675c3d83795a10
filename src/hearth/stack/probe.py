"""One HTTP GET of a service's own JSON endpoint, with the standard library (fast to import)."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any


def probe(url: str, timeout: float = 2) -> tuple[int, dict[str, Any]]:
    """Status code and JSON body; 0 and {} when nothing answers, or something that does
    not speak HTTP does (another program on the port: NATS greets with ``INFO {...}``)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (our own URLs)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read())
        except ValueError:
            return err.code, {}
    except (OSError, ValueError, http.client.HTTPException):
        return 0, {}
