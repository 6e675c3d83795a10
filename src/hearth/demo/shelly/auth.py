"""Gen2+ digest auth as the devices do it: SHA-256, user ``admin``, realm = device id.

On the WebSocket the challenge travels as the message of a 401 error; every later frame
carries ``auth`` with ``nc`` counted up per call. Over HTTP it is RFC 7616 digest.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field

USER = "admin"
WS_HA2 = hashlib.sha256(b"dummy_method:dummy_uri").hexdigest()
_nonces = itertools.count(int(time.time()))


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_ha1(realm: str, password: str) -> str:
    return sha256_hex(f"{USER}:{realm}:{password}")


@dataclass
class DigestGuard:
    realm: str
    ha1: str | None = None  # None: auth disabled
    last_nc: dict[str, int] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.ha1 is not None

    def new_nonce(self) -> str:
        nonce = str(next(_nonces))
        self.last_nc[nonce] = 0
        return nonce

    def ws_challenge(self) -> str:
        nonce = self.new_nonce()
        return json.dumps(
            {
                "auth_type": "digest",
                "nonce": nonce,
                "nc": 1,
                "realm": self.realm,
                "algorithm": "SHA-256",
            }
        )

    def http_challenge(self) -> str:
        nonce = self.new_nonce()
        return f'Digest qop="auth", realm="{self.realm}", nonce="{nonce}", algorithm=SHA-256'

    def check(self, fields: dict[str, object], ha2: str) -> bool:
        """True when ``fields`` (a frame's ``auth`` or a parsed header) prove the password."""
        if self.ha1 is None:
            return True
        nonce, nc = str(fields.get("nonce", "")), fields.get("nc")
        try:
            count = int(nc, 16) if isinstance(nc, str) else int(str(nc))
        except (TypeError, ValueError):
            return False
        if nonce not in self.last_nc or count <= self.last_nc[nonce]:
            return False  # unknown nonce or a replayed nc
        if fields.get("username") != USER or fields.get("realm") != self.realm:
            return False
        nc_text = str(nc)
        expected = sha256_hex(f"{self.ha1}:{nonce}:{nc_text}:{fields.get('cnonce')}:auth:{ha2}")
        if expected != fields.get("response"):
            return False
        self.last_nc[nonce] = count
        return True


def parse_digest_header(header: str) -> dict[str, object]:
    """The key=value pairs of an ``Authorization: Digest ...`` header."""
    if not header.startswith("Digest "):
        return {}
    out: dict[str, object] = {}
    for part in header[len("Digest ") :].split(","):
        key, _, value = part.strip().partition("=")
        out[key] = value.strip('"')
    return out
