"""One HTTP GET of a service's own JSON endpoint, with the standard library (fast to import)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def probe(url: str) -> tuple[int, dict[str, Any]]:
    """Status code and JSON body; 0 and {} when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own URLs)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read())
        except ValueError:
            return err.code, {}
    except (OSError, ValueError):
        return 0, {}
