"""Fixtures for the LLM tests: the real llama.cpp server and a small catalog."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.domain import CatalogEntry
from adapters.llm.client import OpenAICompatibleLLM


@pytest.fixture(scope="session")
def llm_url() -> str:
    """OpenAI-compatible base URL of the test llama.cpp server (scripts/start_llm.sh).

    Skipped when unset, failed instead when PMARK_REQUIRE_SERVICES=1 (as tests/conftest.py does).
    """
    url = os.environ.get("PMARK_TEST_LLM_URL")
    if url:
        return url
    message = "llama.cpp server not available: PMARK_TEST_LLM_URL is not set (scripts/start_llm.sh)"
    if os.environ.get("PMARK_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def real_llm(llm_url: str) -> AsyncIterator[OpenAICompatibleLLM]:
    """A client of the real server, using the first model it serves; generous deadline (CPU)."""
    async with httpx.AsyncClient() as http:
        models = (await http.get(f"{llm_url.rstrip('/')}/models")).json()["data"]
    async with OpenAICompatibleLLM(llm_url, models[0]["id"], timeout=60.0) as llm:
        yield llm


@pytest.fixture
def catalog() -> list[CatalogEntry]:
    """A small two-language catalog covering every field."""
    return [
        CatalogEntry("location", "L100", "보일러실", "Boiler room", ("boiler house",)),
        CatalogEntry("location", "L200", "냉각탑", "Cooling tower"),
        CatalogEntry("equipment", "P-101", "급수 펌프", "Feed water pump", ("feed pump",)),
        CatalogEntry("equipment", "F-201", "냉각 팬", "Cooling fan"),
        CatalogEntry("failure_mode", "LEAK", "누수", "Leak", ("leaking", "새는")),
        CatalogEntry("failure_mode", "VIB", "진동", "Vibration"),
        CatalogEntry("priority", "1", "긴급", "Emergency"),
        CatalogEntry("priority", "2", "높음", "High"),
        CatalogEntry("priority", "3", "보통", "Medium"),
        CatalogEntry("priority", "4", "낮음", "Low"),
        CatalogEntry("activity", "REPAIR", "수리", "Repair"),
        CatalogEntry("activity", "INSPECT", "점검", "Inspection"),
    ]
