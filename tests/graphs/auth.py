"""A custom auth module as LangGraph projects write it (langgraph_sdk.Auth)."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()
TOKENS = {"token-alice": ("alice", ["threads:delete", "crons:create"]), "token-bob": ("bob", [])}


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


@auth.on.assistants.create
async def stamp_assistant(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    value.setdefault("metadata", {})["owner"] = ctx.user.identity


@auth.on.assistants
async def own_or_system_assistants(
    ctx: Auth.types.AuthContext, value: dict[str, Any]
) -> dict[str, Any]:
    return {"$or": [{"owner": ctx.user.identity}, {"created_by": "system"}]}


@auth.on.crons.create
async def cron_makers_only(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    assert "crons:create" in ctx.permissions, "creating crons needs the crons:create permission"
    value.setdefault("metadata", {})["owner"] = ctx.user.identity


@auth.on.crons
async def own_crons(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, str]:
    return {"owner": ctx.user.identity}


@auth.on.store
async def store_rules(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> Any:
    """Store namespaces start with the caller's identity (added when missing); nothing in an
    "archive" is ever deleted, only alice files into one, and searches there see public items."""
    namespace = tuple(value.get("namespace") or ())
    if namespace[:1] != (ctx.user.identity,):
        namespace = (ctx.user.identity, *namespace)
        value["namespace"] = namespace
    if "archive" not in namespace:
        return None
    if ctx.action == "delete":
        return False
    if ctx.action == "put":
        assert ctx.user.identity == "alice", "only alice files into an archive"
    if ctx.action == "search":
        return {"visibility": "public"}
    return None
