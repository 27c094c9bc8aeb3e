"""Request bodies of the memory service's own endpoints (the store's are in
:mod:`headwater.common.memory_contract`, shared with the API and the workers)."""

from __future__ import annotations

from typing import Any

import msgspec


class Extract(msgspec.Struct, kw_only=True):
    """``POST /memories/extract``."""

    user_id: str
    conversation: list[dict[str, Any]]
