"""API tokens' rules: roles and their rank, who may do what, valid names, the stored hash.

Tokens carry 256 random bits, so a fast hash is enough: nobody can guess a preimage, and
the lookup by hash costs nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Literal

Role = Literal["viewer", "operator", "admin"]
RANK: dict[str, int] = {"viewer": 0, "operator": 1, "admin": 2}
PREFIX = "hth_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class Principal:
    name: str
    role: str

    def may(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token(name: str, role: str) -> str:
    """A fresh token for ``name`` with ``role``; refuses a bad name or an unknown role."""
    if not _NAME.match(name):
        raise TokenError(f"token name {name!r} is invalid: letters, digits and ._@- only")
    if role not in RANK:
        raise TokenError(f"role {role!r} is not one of viewer, operator, admin")
    return PREFIX + secrets.token_urlsafe(32)
