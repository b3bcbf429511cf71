"""Builds the configured LLM client, or None when no LLM server is configured."""

from __future__ import annotations

from typing import Any

from adapters.llm.base import LLM
from adapters.llm.client import OpenAICompatibleLLM
from adapters.llm.shared_cache import open_answer_cache
from adapters.settings import Settings


def make_llm(settings: Settings) -> LLM | None:
    """The OpenAI-compatible client for `settings.llm_url`; None means run without an LLM."""
    if not settings.llm_url:
        return None
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    extra: dict[str, Any] = {}
    if "qwen3" in settings.llm_model.lower():
        # Qwen3 thinks before answering by default; short extraction calls cannot afford
        # the extra tokens, and vLLM passes this switch to the chat template.
        extra["chat_template_kwargs"] = {"enable_thinking": False}
    return OpenAICompatibleLLM(
        settings.llm_url,
        settings.llm_model,
        api_key=api_key,
        timeout=settings.llm_timeout,
        extra_body=extra,
        # Every worker of `pmark serve --workers N` opens the same directory.
        shared_cache=open_answer_cache(settings.data_dir / "llm-cache"),
    )
