"""Authentication: static API keys or JWTs (HS256 secret, RS256/ES256 from a JWKS URL).

Every front goes through :func:`authentication`, an ASGI middleware that puts the caller's
identity in ``scope["user"]``; ``owner`` (system/dependencies.py) reads it, and every row, query and bus
message carries it, so another user's thread, run or stream is a 404.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import jwt
import msgspec
from langgraph_sdk.auth.exceptions import HTTPException as AuthHTTPException
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from headwater.api.auth.custom import CURRENT_USER, CustomAuth
from headwater.common.settings import Settings

log = logging.getLogger(__name__)
PUBLIC_PATHS = (
    "/ok",
    "/healthz",
    "/health",
    "/api/health",
    "/api/transcribe/health",
    "/readyz",
    "/metrics",
    "/info",
    "/docs",
    "/console",  # the console's bundle and config.json; its data calls carry credentials
)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling."""

    identity: str


class Unauthenticated(Exception):
    """Missing or bad credentials (401)."""

    def __init__(self, detail: str, error: str = "invalid_token") -> None:
        super().__init__(detail)
        self.detail = detail
        self.error = error


def credentials(headers: Mapping[str, str], query: str) -> str | None:
    """``Authorization: Bearer …``, ``x-api-key: …``, or ``?token=…`` from ``query`` (pass
    ``""`` except for a WebSocket: browsers cannot set its headers, and a key in any other
    URL ends up in logs, proxies and browser history)."""
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    if headers.get("x-api-key"):
        return headers["x-api-key"].strip()
    token = parse_qs(query).get("token")
    return token[0] if token else None


class ApiKeys:
    """``HEADWATER_API_KEYS=key:user,…``; keys compared in constant time."""

    def __init__(self, spec: str) -> None:
        self.keys: list[tuple[bytes, str]] = []
        for pair in filter(None, (p.strip() for p in spec.split(","))):
            key, _, user = pair.partition(":")
            if not key or not user:
                raise ValueError("HEADWATER_API_KEYS must be comma-separated key:user pairs")
            self.keys.append((key.encode(), user))
        if not self.keys:
            raise ValueError("HEADWATER_AUTH=apikey needs HEADWATER_API_KEYS")

    async def identify(self, token: str) -> str:
        found = None
        for key, user in self.keys:
            if hmac.compare_digest(key, token.encode()):
                found = user
        if found is None:
            raise Unauthenticated("Invalid API key")
        return found


class JsonWebTokens:
    """JWTs: HS256 with a shared secret and/or RS256/ES256 keys from a JWKS URL; ``sub`` is the user."""

    def __init__(self, settings: Settings) -> None:
        if not settings.jwt_secret and not settings.jwks_url:
            raise ValueError("HEADWATER_AUTH=jwt needs HEADWATER_JWT_SECRET or HEADWATER_JWKS_URL")
        self.secret = settings.jwt_secret
        self.jwks = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)
            if settings.jwks_url
            else None
        )
        self.audience = settings.jwt_audience or None
        self.issuer = settings.jwt_issuer or None
        self.leeway = settings.jwt_leeway_s

    async def identify(self, token: str) -> str:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg", "")
            if algorithm.startswith("HS") and self.secret:
                key: Any = self.secret
                algorithms = ["HS256"]
            elif self.jwks is not None and algorithm in ("RS256", "ES256"):
                key = (await asyncio.to_thread(self.jwks.get_signing_key_from_jwt, token)).key
                algorithms = ["RS256", "ES256"]
            else:
                raise Unauthenticated(
                    f"Tokens signed with {algorithm or 'no algorithm'} are not accepted"
                )
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("Token expired") from exc
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated("Token signed by an unknown key") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"Invalid token: {exc}") from exc
        return str(claims["sub"])


def build_authenticator(settings: Settings) -> ApiKeys | JsonWebTokens | CustomAuth | None:
    """The configured mode; None for ``none`` (logged loudly)."""
    mode = settings.auth.lower()
    custom = CustomAuth.from_config(settings.config) if mode in ("none", "custom") else None
    if custom is not None:
        log.info("authentication by the langgraph.json auth handlers")
        return custom
    if mode == "custom":
        raise ValueError('HEADWATER_AUTH=custom needs "auth": {"path": "…"} in langgraph.json')
    if mode == "apikey":
        return ApiKeys(settings.api_keys)
    if mode == "jwt":
        return JsonWebTokens(settings)
    if mode != "none":
        raise ValueError(f"HEADWATER_AUTH must be none, apikey or jwt, not {settings.auth!r}")
    log.warning(
        "HEADWATER_AUTH=none: no authentication, every caller shares one anonymous identity"
    )
    return None


def authentication(authenticator: ApiKeys | JsonWebTokens | CustomAuth | None) -> Any:
    """ASGI middleware factory for Litestar's ``middleware=[…]``."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if authenticator is None or scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET):
                await app(scope, receive, send)
                return
            path = scope.get("path", "")
            if path == "/" or path.startswith(PUBLIC_PATHS) or scope.get("method") == "OPTIONS":
                await app(scope, receive, send)
                return
            try:
                user = await _identify(authenticator, scope)
            except Unauthenticated as exc:
                await _refuse(scope, receive, send, exc)
                return
            scope["user"] = user
            reset = CURRENT_USER.set(user)
            try:
                await app(scope, receive, send)
            finally:
                CURRENT_USER.reset(reset)

        return middleware

    return factory


async def _identify(authenticator: ApiKeys | JsonWebTokens | CustomAuth, scope: Scope) -> Any:
    if isinstance(authenticator, CustomAuth):
        return await _custom_user(authenticator, scope)
    headers = {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
    }
    query = scope.get("query_string", b"") if scope["type"] == ScopeType.WEBSOCKET else b""
    token = credentials(headers, query.decode("latin-1"))
    if token is None:
        raise Unauthenticated(
            "Missing credentials: send Authorization: Bearer <token> or x-api-key",
            "invalid_request",
        )
    return Identity(await authenticator.identify(token))


async def _custom_user(custom: CustomAuth, scope: Scope) -> Any:
    try:
        return await custom.authenticate(scope)
    except AuthHTTPException as exc:
        raise Unauthenticated(str(exc.detail) or "Unauthorized", "invalid_token") from exc
    except Exception as exc:
        log.warning("the authenticate handler failed: %r", exc)
        raise Unauthenticated("Authentication failed") from exc


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: Unauthenticated) -> None:
    if scope["type"] == ScopeType.WEBSOCKET:  # accepted, then closed: clients see 4401, not 403
        await receive()  # websocket.connect
        await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
        reason = exc.detail.encode()[:120].decode(errors="ignore")
        await send({"type": "websocket.close", "code": 4401, "reason": reason})
        return
    body = msgspec.json.encode({"detail": exc.detail})
    challenge = f'Bearer realm="headwater", error="{exc.error}", error_description="{exc.detail}"'
    start: Any = {
        "type": "http.response.start",
        "status": 401,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", challenge.encode("latin-1", "replace")),
        ],
    }
    end: Any = {"type": "http.response.body", "body": body}
    await send(start)
    await send(end)
