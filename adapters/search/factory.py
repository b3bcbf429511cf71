"""The configured search index: Weaviate when a URL is set, else the embedded index."""

from __future__ import annotations

from adapters.search.base import SearchIndex
from adapters.settings import Settings
from adapters.text.tokenizer import Tokenizer


def make_search_index(
    settings: Settings, embedder_dim: int, tokenizer: Tokenizer | None = None
) -> SearchIndex:
    """Open the search index for these settings; pass the catalog tokenizer to keep its words."""
    if settings.weaviate_url:
        from adapters.search.weaviate import WeaviateIndex

        return WeaviateIndex.from_settings(settings, embedder_dim, tokenizer)
    from adapters.search.embedded import EmbeddedIndex

    return EmbeddedIndex(embedder_dim, settings.data_dir / "index", tokenizer)
