"""What the store does, from langgraph.json's ``store`` section and the settings.

Semantic search is on when there is an embeddings endpoint (``HEADWATER_EMBEDDINGS_BASE_URL``):
with ``store.index`` it embeds what that section says; without one it embeds whole values
(``"$"``) with ``HEADWATER_EMBEDDINGS_MODEL``, so setting the endpoint alone keeps meaning-based
search on. A ``store.index`` without an endpoint cannot embed: searches fall back to full-text
ranking, with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from headwater.common.graph_config import StoreConfig, load_project, store_config
from headwater.common.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_SWEEP_MINUTES = 5.0


@dataclass(frozen=True, slots=True)
class SemanticIndex:
    """Embed these fields of every value written, with this model."""

    model: str
    dims: int | None
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """Resolved once at start-up and passed down."""

    index: SemanticIndex | None = None
    default_ttl: float | None = None
    refresh_on_read: bool = True
    sweep_interval_minutes: float = DEFAULT_SWEEP_MINUTES


def project_store_config(config_path: str) -> StoreConfig:
    """The ``store`` section of the served langgraph.json (empty when the file is absent).

    The memory service needs only this section, so images that do not ship the project still
    start; a malformed section stops the service (:class:`ConfigError`).
    """
    if not Path(config_path).exists():
        log.info("no langgraph.json at %s: store.index and store.ttl not applied", config_path)
        return StoreConfig()
    return store_config(load_project(config_path))


def store_options(settings: Settings, config: StoreConfig | None = None) -> StoreOptions:
    """Combine the ``store`` section with the embeddings settings."""
    config = project_store_config(settings.config) if config is None else config
    index: SemanticIndex | None = None
    if settings.embeddings_base_url:
        if config.index is not None:
            index = SemanticIndex(config.index.model, config.index.dims, config.index.fields)
        else:
            index = SemanticIndex(settings.embeddings_model, None, ("$",))
    elif config.index is not None:
        log.warning(
            "store.index is set but HEADWATER_EMBEDDINGS_BASE_URL is not: "
            "store search ranks by full text, not by meaning"
        )
    ttl = config.ttl
    if ttl is None:
        return StoreOptions(index=index)
    return StoreOptions(
        index=index,
        default_ttl=ttl.default_ttl,
        refresh_on_read=ttl.refresh_on_read,
        sweep_interval_minutes=ttl.sweep_interval_minutes or DEFAULT_SWEEP_MINUTES,
    )
