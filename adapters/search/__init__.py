"""Hybrid (BM25 + vector) search over past notifications."""

from adapters.search.base import SearchFilters, SearchHit, SearchIndex
from adapters.search.factory import make_search_index

__all__ = ["SearchFilters", "SearchHit", "SearchIndex", "make_search_index"]
