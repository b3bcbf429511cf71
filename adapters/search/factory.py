"""The configured search index: Weaviate when a URL is set, else the embedded index."""

from __future__ import annotations

from adapters.search.base import SearchIndex
from adapters.settings import Settings
from adapters.text.tokenizer import Tokenizer


def make_search_index(
    settings: Settings, embedder_dim: int, tokenizer: Tokenizer | None = None
) -> SearchIndex:
    """Open the search index for these settings; pass the catalog tokenizer to keep its words."""
    from adapters.search.embedded import EmbeddedIndex

    embedded = EmbeddedIndex(embedder_dim, settings.data_dir / "index", tokenizer)
    if not settings.weaviate_url:
        return embedded
    from adapters.search.fallback import FallbackIndex
    from adapters.search.weaviate import WeaviateIndex

    connected: list[bool] = []

    def open_weaviate() -> WeaviateIndex:
        # Only a first connection creates the collection: later ones reconnect to a server
        # that had it, and one missing there is still loading (or lost, for `pmark reindex`).
        index = WeaviateIndex.from_settings(settings, embedder_dim, tokenizer, create=not connected)
        connected[:] = [True]
        return index

    # The embedded index mirrors Weaviate so a Weaviate outage degrades search instead of
    # failing turns.
    return FallbackIndex(
        open_weaviate,
        embedded,
        retry_after_s=settings.weaviate_retry_seconds,
        query_timeout=settings.weaviate_timeout,
    )
