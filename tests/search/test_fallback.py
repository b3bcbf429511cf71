"""A Weaviate that cannot be reached: search answers from the embedded mirror."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from adapters.domain import Notification
from adapters.search.factory import make_search_index
from adapters.search.fallback import FallbackIndex
from adapters.search.weaviate import WeaviateIndex
from adapters.settings import Settings
from tests.conftest import service_url


def test_unreachable_weaviate_falls_back_to_the_mirror(tmp_path: Path) -> None:
    # Port 9 (discard) has no Weaviate: the real client fails to connect.
    settings = Settings(data_dir=tmp_path, weaviate_url="http://127.0.0.1:9", weaviate_grpc_port=10)
    index = make_search_index(settings, 4)
    assert isinstance(index, FallbackIndex)
    notes = [
        Notification(
            "A1", datetime(2024, 1, 1), "L", "PMP", "LEK", "1", "펌프 누유", "", "씰 교체"
        ),
        Notification(
            "A2", datetime(2024, 1, 2), "L", "MTR", "HOT", "2", "모터 과열", "", "팬 청소"
        ),
    ]
    vectors = np.eye(2, 4, dtype=np.float32)
    assert index.upsert(notes, vectors) == 2
    assert index.health() is False
    hits = index.query("펌프 누유", vectors[0], 0.5, None, 5)
    assert hits[0].itemno == "A1"
    assert index.fallbacks == 1 and index.degraded
    assert index.count() == 2
    index.close()


@pytest.mark.weaviate
def test_a_reconnection_does_not_create_a_missing_collection() -> None:
    """A Weaviate reloading its schema after a restart lists no collections for a while: a
    reconnection must not create an empty one in its place."""
    url = service_url("PMARK_TEST_WEAVIATE_URL", "Weaviate")
    name = f"Missing{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError, match="missing"):
        WeaviateIndex(url, 4, name, create=False)
    created = WeaviateIndex(url, 4, name)
    try:
        WeaviateIndex(url, 4, name, create=False).close()
    finally:
        created.drop()
        created.close()
