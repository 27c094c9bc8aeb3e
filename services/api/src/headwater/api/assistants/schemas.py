"""Request bodies of ``/assistants`` (unknown keys are accepted and ignored)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from headwater.api.shared.schemas import Limit, Offset, SortOrder, check_config

AssistantField = Literal[
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "created_at",
    "updated_at",
    "version",
    "description",
]


class AssistantSearch(msgspec.Struct, kw_only=True):
    """``POST /assistants/search`` and ``/assistants/count``."""

    graph_id: str | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"] = "created_at"
    sort_order: SortOrder = "desc"
    select: list[AssistantField] | None = None


class AssistantCreate(msgspec.Struct, kw_only=True):
    """``POST /assistants``."""

    graph_id: str
    assistant_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        check_config(self.config)


class AssistantPatch(msgspec.Struct, kw_only=True):
    """``PATCH /assistants/{assistant_id}``: a new version."""

    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        check_config(self.config)


class VersionsSearch(msgspec.Struct, kw_only=True):
    """``POST /assistants/{assistant_id}/versions``."""

    metadata: dict[str, Any] | None = None
    limit: Limit = 10
    offset: Offset = 0


class SetLatest(msgspec.Struct, kw_only=True):
    """``POST /assistants/{assistant_id}/latest``."""

    version: Annotated[int, msgspec.Meta(ge=1)]
