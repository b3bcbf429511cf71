"""make_llm: None without a URL, otherwise a client configured from the settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from adapters.llm import LLM, OpenAICompatibleLLM, make_llm
from adapters.settings import Settings
from tests.fake_secrets import LLM_API_KEY


def test_no_url_means_no_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PMARK_LLM_URL", raising=False)
    assert make_llm(Settings(_env_file=None, llm_url=None)) is None


async def test_client_follows_the_settings() -> None:
    settings = Settings(
        _env_file=None,
        llm_url="http://127.0.0.1:9/v1/",
        llm_model="Qwen/Qwen3-8B",
        llm_api_key=SecretStr(LLM_API_KEY),
        llm_timeout=3.5,
    )
    llm = make_llm(settings)
    assert isinstance(llm, OpenAICompatibleLLM) and isinstance(llm, LLM)
    assert (llm.base_url, llm.model, llm.timeout) == ("http://127.0.0.1:9/v1", "Qwen/Qwen3-8B", 3.5)
    assert llm._http.headers["authorization"] == f"Bearer {LLM_API_KEY}"
    assert llm.extra_body == {"chat_template_kwargs": {"enable_thinking": False}}
    await llm.aclose()
