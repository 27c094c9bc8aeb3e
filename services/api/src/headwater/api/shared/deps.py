"""Dependencies handlers ask for by name."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import Scope

from headwater.api.shared.context import ApiContext
from headwater.api.shared.errors import Unprocessable
from headwater.common.ids import is_uuid


def provide_ctx(state: State) -> ApiContext:
    """The ApiContext built in the lifespan."""
    ctx: ApiContext = state.ctx
    return ctx


def provide_owner(scope: Scope) -> str:
    """Who is asking. Anonymous ("") until authentication is configured."""
    user = scope.get("user")
    return str(getattr(user, "identity", "") or "")


def require_uuid(value: str, what: str) -> str:
    """422 unless ``value`` is a UUID, as langgraph-api validates path ids."""
    if not is_uuid(value):
        raise Unprocessable(f"Invalid {what} ID: must be a UUID")
    return value


DEPENDENCIES = {
    "ctx": Provide(provide_ctx, sync_to_thread=False),
    "owner": Provide(provide_owner, sync_to_thread=False),
}
