"""A Weaviate that cannot be reached: search answers from the embedded mirror."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from adapters.domain import Notification
from adapters.search.factory import make_search_index
from adapters.search.fallback import FallbackIndex
from adapters.settings import Settings


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
