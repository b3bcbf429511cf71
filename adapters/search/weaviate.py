"""Hybrid index on a Weaviate server (weaviate-client v4, self-provided vectors)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import numpy as np
import numpy.typing as npt
import weaviate
from weaviate.classes.config import (
    Configure,
    DataType,
    Property,
    StopwordsPreset,
    Tokenization,
    VectorDistances,
)
from weaviate.classes.data import DataObject
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery
from weaviate.classes.tenants import Tenant
from weaviate.collections import Collection
from weaviate.collections.classes.filters import _Filters

from adapters.domain import Notification
from adapters.search.base import (
    SearchFilters,
    SearchHit,
    checked_query_vector,
    checked_vectors,
    explain,
    object_id,
)
from adapters.search.embedded import BM25_B, BM25_K1, CODE_FIELDS, to_utc
from adapters.settings import Settings
from adapters.text.tokenizer import Tokenizer
from adapters.tracing import traced

TOKENIZATIONS = ("kiwi", "kagome_kr")
INSERT_CHUNK = 500
DELETE_CHUNK = 1000
RETURN_PROPERTIES = ["itemno", "title", "resolution", *CODE_FIELDS, "created_at"]
# "Hybrid (Result Set keyword,bm25) Document <id>: original score 1.2, normalized score: 0.35"
_EXPLAIN = re.compile(
    r"Result Set (?P<set>[^)]*)\) Document [^:]*: original score (?P<orig>[-\d.eE+]+|NaN), "
    r"normalized score: (?P<norm>[-\d.eE+]+|NaN)"
)


class WeaviateError(RuntimeError):
    """A Weaviate operation failed (details in the message)."""


def parse_url(url: str) -> tuple[str, int]:
    """Host and HTTP port of a Weaviate URL like http://127.0.0.1:8080."""
    parsed = urlparse(url if "://" in url else f"http://{url}")
    if not parsed.hostname:
        raise ValueError(f"not a Weaviate URL: {url!r}")
    return parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 8080)


class WeaviateIndex:
    """A `SearchIndex` stored in one Weaviate collection (one tenant per plant if configured)."""

    def __init__(
        self,
        url: str,
        dim: int,
        collection: str = "Notification",
        *,
        grpc_port: int = 50051,
        api_key: str | None = None,
        tenant: str | None = None,
        tokenization: str = "kiwi",
        tokenizer: Tokenizer | None = None,
        timeout: float = 30.0,
        create: bool = True,
    ) -> None:
        """Connect and create the collection (and tenant) if they do not exist yet.

        With `create=False` a missing collection is an error: a server coming back from a
        restart lists no collections until it has reloaded its schema, and one created then
        would be empty.

        `timeout` bounds queries and the connection checks; imports get longer.
        """
        if tokenization not in TOKENIZATIONS:
            raise ValueError(f"weaviate_tokenization must be one of {TOKENIZATIONS}")
        self.dim = dim
        self.name = collection
        self.tenant = tenant
        self.tokenization = tokenization
        self.tokenizer = tokenizer if tokenizer is not None else Tokenizer()
        host, port = parse_url(url)
        self._client = weaviate.connect_to_local(
            host=host,
            port=port,
            grpc_port=grpc_port,
            auth_credentials=Auth.api_key(api_key) if api_key else None,
            additional_config=AdditionalConfig(
                timeout=Timeout(init=min(timeout, 5.0), query=timeout, insert=max(timeout, 90.0))
            ),
        )
        try:
            if not create and not self._client.collections.exists(self.name):
                raise RuntimeError(f"collection {self.name} is missing on the server")
            self._collection = self._ensure_schema()
        except Exception:
            self._client.close()
            raise

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        dim: int,
        tokenizer: Tokenizer | None = None,
        create: bool = True,
    ) -> WeaviateIndex:
        """The index described by PMARK_WEAVIATE_* settings."""
        if not settings.weaviate_url:
            raise ValueError("PMARK_WEAVIATE_URL is not set")
        key = settings.weaviate_api_key.get_secret_value() if settings.weaviate_api_key else None
        return cls(
            settings.weaviate_url,
            dim,
            settings.weaviate_collection,
            grpc_port=settings.weaviate_grpc_port,
            api_key=key,
            tenant=settings.weaviate_tenant,
            tokenization=settings.weaviate_tokenization,
            tokenizer=tokenizer,
            timeout=settings.weaviate_timeout,
            create=create,
        )

    # ----- schema -----
    def _ensure_schema(self) -> Collection[Any, Any]:
        collections = self._client.collections
        if not collections.exists(self.name):
            text_tok = (
                Tokenization.KAGOME_KR if self.tokenization == "kagome_kr" else Tokenization.WORD
            )
            searchable_text = self.tokenization == "kagome_kr"
            try:
                collections.create(
                    self.name,
                    properties=[
                        Property(
                            name="itemno",
                            data_type=DataType.TEXT,
                            tokenization=Tokenization.FIELD,
                            index_searchable=False,
                        ),
                        # Kiwi tokens joined by spaces: both backends then share one analyzer.
                        Property(
                            name="tokens",
                            data_type=DataType.TEXT,
                            tokenization=Tokenization.WHITESPACE,
                            index_filterable=False,
                        ),
                        Property(
                            name="title",
                            data_type=DataType.TEXT,
                            tokenization=text_tok,
                            index_searchable=searchable_text,
                            index_filterable=False,
                        ),
                        Property(
                            name="details",
                            data_type=DataType.TEXT,
                            tokenization=text_tok,
                            index_searchable=searchable_text,
                            index_filterable=False,
                        ),
                        Property(
                            name="resolution",
                            data_type=DataType.TEXT,
                            index_searchable=False,
                            index_filterable=False,
                        ),
                        *[
                            Property(
                                name=f,
                                data_type=DataType.TEXT,
                                tokenization=Tokenization.FIELD,
                                index_searchable=False,
                            )
                            for f in CODE_FIELDS
                        ],
                        Property(name="created_at", data_type=DataType.DATE),
                    ],
                    vector_config=Configure.Vectors.self_provided(
                        vector_index_config=Configure.VectorIndex.hnsw(
                            distance_metric=VectorDistances.COSINE
                        )
                    ),
                    inverted_index_config=Configure.inverted_index(
                        bm25_k1=BM25_K1, bm25_b=BM25_B, stopwords_preset=StopwordsPreset.NONE
                    ),
                    multi_tenancy_config=Configure.multi_tenancy(
                        enabled=self.tenant is not None, auto_tenant_creation=True
                    )
                    if self.tenant is not None
                    else None,
                )
            except weaviate.exceptions.UnexpectedStatusCodeError as exc:
                # Another process created it between our check and our create.
                if not collections.exists(self.name):
                    raise WeaviateError(f"cannot create collection {self.name}: {exc}") from exc
        collection = collections.get(self.name)
        mt = collection.config.get().multi_tenancy_config.enabled
        if mt and self.tenant is None:
            raise WeaviateError(
                f"collection {self.name} is multi-tenant: set PMARK_WEAVIATE_TENANT"
            )
        if not mt and self.tenant is not None:
            raise WeaviateError(
                f"collection {self.name} is not multi-tenant but a tenant is configured"
            )
        if self.tenant is not None:
            if not collection.tenants.exists(self.tenant):
                collection.tenants.create(Tenant(name=self.tenant))
            return collection.with_tenant(self.tenant)
        return collection

    # ----- SearchIndex -----
    def upsert(
        self, notifications: Sequence[Notification], vectors: npt.NDArray[np.float32]
    ) -> int:
        """Insert or replace (same itemno -> same object id); raises if any object fails."""
        matrix = checked_vectors(notifications, vectors, self.dim)
        if not notifications:
            return 0
        token_lists = self.tokenizer.tokens_batch([n.search_text() for n in notifications])
        for start in range(0, len(notifications), INSERT_CHUNK):
            chunk = range(start, min(start + INSERT_CHUNK, len(notifications)))
            objects = [
                DataObject(
                    properties=_properties(notifications[i], token_lists[i]),
                    uuid=object_id(notifications[i].itemno),
                    vector=matrix[i].tolist(),
                )
                for i in chunk
            ]
            result = self._collection.data.insert_many(objects)
            if result.has_errors:
                details = "; ".join(
                    f"{notifications[start + i].itemno}: {err.message}"
                    for i, err in list(result.errors.items())[:5]
                )
                raise WeaviateError(
                    f"{len(result.errors)} of {len(objects)} notifications failed to import "
                    f"into {self.name}: {details}"
                )
        return len(notifications)

    def delete(self, itemnos: Sequence[str]) -> int:
        """Remove notifications by itemno; returns how many existed."""
        unique = list(dict.fromkeys(itemnos))
        removed = 0
        for start in range(0, len(unique), DELETE_CHUNK):
            chunk = unique[start : start + DELETE_CHUNK]
            result = self._collection.data.delete_many(
                where=Filter.by_property("itemno").contains_any(chunk)
            )
            if result.failed:
                raise WeaviateError(f"{result.failed} deletions failed in {self.name}")
            removed += result.successful
        return removed

    def count(self) -> int:
        """Objects in the collection (tenant)."""
        total = self._collection.aggregate.over_all(total_count=True).total_count
        return int(total or 0)

    def health(self) -> bool:
        """True when the server answers its readiness check."""
        try:
            return bool(self._client.is_ready())
        except Exception:
            return False

    def close(self) -> None:
        """Close the HTTP and gRPC connections."""
        self._client.close()

    def drop(self) -> None:
        """Delete the whole collection (tests and re-imports)."""
        self._client.collections.delete(self.name)

    @traced("pmark.search weaviate", **{"pmark.search.backend": "weaviate"})
    def query(
        self,
        text: str,
        vector: npt.NDArray[np.float32],
        alpha: float,
        filters: SearchFilters | None = None,
        limit: int = 10,
    ) -> list[SearchHit]:
        """Server-side hybrid query with relativeScoreFusion; alpha weights the vector side."""
        q = checked_query_vector(vector, self.dim)
        alpha = min(1.0, max(0.0, alpha))
        where = _where(filters)
        if filters is not None and any(not codes for codes in filters.code_filters().values()):
            return []  # an empty list of allowed codes matches nothing
        if self.tokenization == "kagome_kr":
            query_text, properties = text, ["title", "details"]
        else:
            query_text, properties = self.tokenizer.query_string(text), ["tokens"]
        if not query_text.strip():
            if alpha == 0.0:
                return []
            # Weaviate rejects an empty keyword query; with no terms only the vector side counts.
            query_text, alpha = "", 1.0
        response = self._collection.query.hybrid(
            query=query_text or None,
            vector=q.tolist(),
            alpha=alpha,
            fusion_type=HybridFusion.RELATIVE_SCORE,
            query_properties=properties,
            filters=where,
            limit=limit,
            return_metadata=MetadataQuery(score=True, explain_score=True),
            return_properties=RETURN_PROPERTIES,
        )
        hits = []
        for obj in response.objects:
            props = obj.properties
            score = float(obj.metadata.score or 0.0)
            bm25, vec = explain_parts(obj.metadata.explain_score or "", alpha)
            created = props.get("created_at")
            hits.append(
                SearchHit(
                    itemno=str(props.get("itemno")),
                    score=min(1.0, max(0.0, score)),
                    bm25=bm25,
                    vector=vec,
                    explanation=explain(score, bm25, vec, alpha),
                    title=str(props.get("title") or ""),
                    resolution=str(props.get("resolution") or ""),
                    location=_opt(props.get("location")),
                    equipment=_opt(props.get("equipment")),
                    failure_mode=_opt(props.get("failure_mode")),
                    priority=_opt(props.get("priority")),
                    created_at=to_utc(created) if isinstance(created, datetime) else None,
                )
            )
        return hits


def explain_parts(explanation: str, alpha: float) -> tuple[float, float]:
    """The normalized (unweighted) BM25 and vector parts from Weaviate's explainScore."""
    bm25 = vector = 0.0
    for m in _EXPLAIN.finditer(explanation):
        try:
            weighted = float(m.group("norm"))
        except ValueError:
            continue
        if "keyword" in m.group("set") or "bm25" in m.group("set"):
            bm25 = weighted / (1.0 - alpha) if alpha < 1.0 else 0.0
        else:
            vector = weighted / alpha if alpha > 0.0 else 0.0
    return min(1.0, max(0.0, bm25)), min(1.0, max(0.0, vector))


def _properties(notification: Notification, tokens: Sequence[str]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "itemno": notification.itemno,
        "tokens": " ".join(tokens),
        "title": notification.title,
        "details": notification.details,
        "resolution": notification.resolution,
        "created_at": to_utc(notification.created_at),
    }
    for name in CODE_FIELDS:
        props[name] = getattr(notification, name)
    return props


def _where(filters: SearchFilters | None) -> _Filters | None:
    if filters is None:
        return None
    parts: list[_Filters] = []
    for name, codes in filters.code_filters().items():
        if codes:
            parts.append(Filter.by_property(name).contains_any(list(codes)))
    if filters.created_from is not None:
        parts.append(
            Filter.by_property("created_at").greater_or_equal(to_utc(filters.created_from))
        )
    if filters.created_to is not None:
        parts.append(Filter.by_property("created_at").less_or_equal(to_utc(filters.created_to)))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Filter.all_of(parts)


def _opt(value: object) -> str | None:
    return None if value is None or value == "" else str(value)
