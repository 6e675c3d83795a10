"""Token commands on NATS (``hearth token create|ls|revoke`` send these as an admin)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from hearth_query_api.tokens import TokenError, create_token, list_tokens, revoke_token
from hearth_servicekit.commands import CommandRejected


class CreateToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    role: str
    actor: str = "hearth"


class ListTokens(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RevokeToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


async def handle_create(pool: Any, request: CreateToken) -> dict[str, Any]:
    async with pool.acquire() as conn:
        try:
            token = await create_token(conn, request.name, request.role, request.actor)
        except TokenError as exc:
            raise CommandRejected(str(exc)) from None
    return {
        "name": request.name,
        "role": request.role,
        "token": token,
        "note": "shown once: store it now",
    }


async def handle_list(pool: Any, _: ListTokens) -> dict[str, Any]:
    async with pool.acquire() as conn:
        tokens = await list_tokens(conn)
    return {
        "tokens": [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in t.items()}
            for t in tokens
        ]
    }


async def handle_revoke(pool: Any, request: RevokeToken) -> dict[str, Any]:
    async with pool.acquire() as conn:
        revoked = await revoke_token(conn, request.name)
    if revoked is None:
        raise CommandRejected(f"no active token named {request.name!r}")
    return {"name": request.name, "revoked_at": revoked.isoformat()}
