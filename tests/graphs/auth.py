"""A custom auth module as LangGraph projects write it (langgraph_sdk.Auth)."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()
TOKENS = {"token-alice": ("alice", ["threads:delete"]), "token-bob": ("bob", [])}


@auth.authenticate
async def authenticate(authorization: str | None) -> dict[str, Any]:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Auth.exceptions.HTTPException(status_code=401, detail="Missing bearer token")
    found = TOKENS.get(authorization.split(" ", 1)[1])
    if found is None:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Unknown token")
    identity, permissions = found
    return {"identity": identity, "permissions": permissions}


@auth.on.threads.create
async def stamp_thread(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    value.setdefault("metadata", {})["owner"] = ctx.user.identity


@auth.on.threads.create_run
async def stamp_run(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, str]:
    value.setdefault("metadata", {})["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}


@auth.on.threads.delete
async def deleters_only(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, str]:
    assert "threads:delete" in ctx.permissions, (
        "deleting threads needs the threads:delete permission"
    )
    return {"owner": ctx.user.identity}


@auth.on.threads
async def owner_only(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, Any]:
    return {"owner": {"$eq": ctx.user.identity}}
