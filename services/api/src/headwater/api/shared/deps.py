"""Dependencies handlers ask for by name."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import Scope

from headwater.api.shared.context import ApiContext


def provide_ctx(state: State) -> ApiContext:
    """The ApiContext built in the lifespan."""
    ctx: ApiContext = state.ctx
    return ctx


def provide_owner(scope: Scope) -> str:
    """Who is asking. Anonymous ("") until authentication is configured."""
    user = scope.get("user")
    return str(getattr(user, "identity", "") or "")


DEPENDENCIES = {
    "ctx": Provide(provide_ctx, sync_to_thread=False),
    "owner": Provide(provide_owner, sync_to_thread=False),
}
