"""The memory service's wire contract, shared by the memory service, the API and the workers.

Who the caller is: the memory service scopes every item under the owner named in
:data:`OWNER_HEADER`, and trusts that header only from callers that send
``HEADWATER_SERVICE_TOKEN`` in :data:`SERVICE_TOKEN_HEADER` (docs/security.md). The API sets
the owner of the authenticated user (never the client's own header); a worker sets the owner
of the run it executes.

What it takes: the store API's bodies (``/store/items``, ``/store/items/search``,
``/store/namespaces``) and the internal batch endpoint (:data:`BATCH_PATH`), which takes the
same shapes tagged with ``"op"``: ``get``, ``put``, ``delete``, ``search``,
``list_namespaces``. ``ttl`` left out of a put means the store's default
(langgraph.json ``store.ttl.default_ttl``); ``null`` means no expiry.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

OWNER_HEADER = "x-headwater-owner"
SERVICE_TOKEN_HEADER = "x-headwater-service-token"
BATCH_PATH = "/store/batch"


def service_headers(token: str) -> dict[str, str]:
    """The header carrying ``token`` (none when no token is configured)."""
    return {SERVICE_TOKEN_HEADER: token} if token else {}


# PostgreSQL's ``integer``: the official store casts max_depth to it (after the service adds
# one for the owner's label), so bounds here keep "integer out of range" a 422, not a 500.
INT32_MAX = 2**31 - 1
Limit = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Offset = Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)]
MaxDepth = Annotated[int, msgspec.Meta(ge=1, le=INT32_MAX - 1)]
Key = Annotated[str, msgspec.Meta(min_length=1)]
MAX_BATCH_OPS = 1000


class GetItem(msgspec.Struct, kw_only=True, omit_defaults=True, tag="get", tag_field="op"):
    """Read one item; ``refresh_ttl`` null means the store's ``refresh_on_read``."""

    namespace: list[str]
    key: Key
    refresh_ttl: bool | None = None


class PutItem(msgspec.Struct, kw_only=True, omit_defaults=True, tag="put", tag_field="op"):
    """Write one item (``ttl`` in minutes; ``index``: false, field paths, or the default)."""

    namespace: list[str]
    key: Key
    value: dict[str, Any]
    index: bool | list[str] | None = None
    ttl: float | msgspec.UnsetType | None = msgspec.UNSET


class DeleteItem(msgspec.Struct, kw_only=True, omit_defaults=True, tag="delete", tag_field="op"):
    """Delete one item."""

    namespace: list[str]
    key: Key


class SearchItems(msgspec.Struct, kw_only=True, omit_defaults=True, tag="search", tag_field="op"):
    """Items under a namespace prefix, filtered on value fields, ranked by ``query``."""

    namespace_prefix: list[str] = msgspec.field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: Limit = 10
    offset: Offset = 0
    query: str | None = None
    refresh_ttl: bool | None = None


class ListNamespaces(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag="list_namespaces", tag_field="op"
):
    """Namespaces by prefix, suffix and depth."""

    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: MaxDepth | None = None
    limit: Limit = 100
    offset: Offset = 0


StoreRequest = GetItem | PutItem | DeleteItem | SearchItems | ListNamespaces


class Batch(msgspec.Struct, kw_only=True):
    """``POST /store/batch``: the ops of one LangGraph ``abatch``, answered in order."""

    ops: Annotated[list[StoreRequest], msgspec.Meta(max_length=MAX_BATCH_OPS)]
