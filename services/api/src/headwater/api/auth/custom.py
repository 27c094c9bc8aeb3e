"""LangGraph custom auth: a ``langgraph_sdk.Auth`` object named in langgraph.json.

``"auth": {"path": "./auth.py:auth"}`` — its ``@auth.authenticate`` function identifies every
request; its ``@auth.on…`` handlers allow, refuse (403) or filter (on metadata) each action.

These handlers run in the API process. It is the one piece of user code the API loads, on
purpose: authentication decides whether a request is accepted at all, on every request, before
any work is queued; asking a worker over NATS would add a round trip to every call and would
refuse every request while workers are down. The graphs themselves still load only in workers.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from langgraph_sdk.auth import Auth
from langgraph_sdk.auth.exceptions import HTTPException as AuthHTTPException
from langgraph_sdk.auth.types import AuthContext

from headwater.api.shared.errors import ApiError
from headwater.common.graph_config import GraphSpec, import_attribute, load_project

CURRENT_USER: contextvars.ContextVar[Any] = contextvars.ContextVar("headwater_user", default=None)
"""The authenticated user of the request being handled (custom auth handlers need it)."""


class AuthUser(dict[str, Any]):
    """The user an ``@auth.authenticate`` function returned, with ``identity`` and ``permissions``."""

    @property
    def identity(self) -> str:
        return str(self.get("identity", ""))

    @property
    def permissions(self) -> Sequence[str]:
        return list(self.get("permissions", []))

    @property
    def display_name(self) -> str:
        return str(self.get("display_name", self.identity))

    @property
    def is_authenticated(self) -> bool:
        return bool(self.get("is_authenticated", True))


class Forbidden(ApiError):
    """403."""

    status_code = 403


def normalize_user(result: Any) -> AuthUser:
    """``str`` | ``{"identity", …}`` | object with ``.identity`` | ``(permissions, user)``."""
    if isinstance(result, tuple) and len(result) == 2:
        permissions, user = result
        normalized = normalize_user(user)
        normalized["permissions"] = list(permissions)
        return normalized
    if isinstance(result, str):
        return AuthUser(identity=result, permissions=[])
    if isinstance(result, Mapping):
        if "identity" not in result:
            raise ValueError("the authenticate handler returned a user without 'identity'")
        return AuthUser({"permissions": [], **result})
    identity = getattr(result, "identity", None)
    if identity is None:
        raise ValueError(f"the authenticate handler returned {type(result).__name__}, not a user")
    return AuthUser(
        identity=str(identity), permissions=list(getattr(result, "permissions", []) or [])
    )


def filter_matches(rule: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    """The filter language of langgraph-api's handlers, on a row's metadata."""
    for key, expected in rule.items():
        if key == "$or":
            if not any(filter_matches(part, metadata) for part in expected):
                return False
            continue
        if key == "$and":
            if not all(filter_matches(part, metadata) for part in expected):
                return False
            continue
        actual = metadata.get(key)
        if isinstance(expected, Mapping) and "$eq" in expected:
            if actual != expected["$eq"]:
                return False
        elif isinstance(expected, Mapping) and "$contains" in expected:
            wanted = expected["$contains"]
            items = wanted if isinstance(wanted, list) else [wanted]
            if not isinstance(actual, list) or not all(item in actual for item in items):
                return False
        elif actual != expected:
            return False
    return True


def equality_filter(rule: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The part of a filter a metadata containment query can apply (plain and ``$eq`` keys)."""
    if not rule:
        return None
    plain = {}
    for key, value in rule.items():
        if key.startswith("$"):
            return None
        if isinstance(value, Mapping):
            if set(value) != {"$eq"}:
                return None
            value = value["$eq"]
        plain[key] = value
    return plain


class CustomAuth:
    """Runs a project's ``Auth`` object."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth

    @classmethod
    def from_config(cls, config_path: str) -> CustomAuth | None:
        project = load_project(config_path)
        section = project.raw.get("auth")
        if not isinstance(section, Mapping) or not section.get("path"):
            return None
        location, attribute = str(section["path"]).rsplit(":", 1)
        auth = import_attribute(
            GraphSpec("auth", location, attribute, str(Path(project.path).parent))
        )
        if not isinstance(auth, Auth):
            raise TypeError(f"{section['path']} is not a langgraph_sdk.Auth object")
        return cls(auth)

    async def authenticate(self, scope: Mapping[str, Any]) -> AuthUser:
        """Call ``@auth.authenticate`` with the parameters it names."""
        handler = self.auth._authenticate_handler
        if handler is None:
            return AuthUser(identity="", permissions=[])
        raw_headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        headers = {k.lower(): v for k, v in raw_headers}
        authorization = headers.get(b"authorization")
        available = {
            "headers": headers,
            "authorization": authorization.decode("latin-1") if authorization else None,
            "path": scope.get("path", ""),
            "method": scope.get("method", "GET"),
            "query_params": {
                k: v[-1]
                for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()
            },
            "path_params": scope.get("path_params", {}),
            "scopes": [],
            "scope": scope,
            "user": None,
        }
        wanted = inspect.signature(handler).parameters
        result: Any = handler(**{name: available.get(name) for name in wanted})
        if inspect.isawaitable(result):
            result = await result
        return normalize_user(result)

    def _handler(self, resource: str, action: str) -> Any:
        handlers = self.auth._handlers
        for key in ((resource, action), (resource, "*"), ("*", action), ("*", "*")):
            if handlers.get(key):
                return handlers[key][-1]
        return self.auth._global_handlers[-1] if self.auth._global_handlers else None

    async def authorize(
        self, user: AuthUser, resource: str, action: str, value: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Run the handler for (resource, action): None (allowed), a filter, or raise 403/4xx."""
        handler = self._handler(resource, action)
        if handler is None:
            return None
        fields: dict[str, Any] = {
            "user": user,
            "permissions": user.permissions,
            "resource": resource,
            "action": action,
        }
        context = AuthContext(**fields)
        try:
            result = handler(ctx=context, value=value)
            if inspect.isawaitable(result):
                result = await result
        except AssertionError as exc:
            raise Forbidden(str(exc) or "Forbidden") from exc
        except AuthHTTPException as exc:
            raise ApiError(str(exc.detail), exc.status_code) from exc
        if result is None or result is True:
            return None
        if result is False:
            raise Forbidden("Forbidden")
        if isinstance(result, dict):
            return result
        raise ApiError(
            f"auth handler for {resource}.{action} returned {type(result).__name__}", 500
        )
