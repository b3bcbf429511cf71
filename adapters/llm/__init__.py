"""LLM access: the `LLM` protocol, its errors and the OpenAI-compatible (vLLM) client."""

from adapters.llm.base import (
    LLM,
    CircuitOpen,
    LLMBadResponse,
    LLMError,
    LLMSchemaError,
    LLMTimeout,
    LLMUnavailable,
)
from adapters.llm.client import OpenAICompatibleLLM
from adapters.llm.factory import make_llm

__all__ = [
    "LLM",
    "CircuitOpen",
    "LLMBadResponse",
    "LLMError",
    "LLMSchemaError",
    "LLMTimeout",
    "LLMUnavailable",
    "OpenAICompatibleLLM",
    "make_llm",
]
