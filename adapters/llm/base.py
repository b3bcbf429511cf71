"""The LLM contract every implementation meets, and the errors it may raise."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class LLMError(Exception):
    """Any failure of an LLM call; callers catch this one and fall back."""


class LLMUnavailable(LLMError):
    """The server could not be reached or did not answer in time (or the circuit is open)."""


class LLMTimeout(LLMUnavailable):
    """The call ran past its deadline."""


class CircuitOpen(LLMUnavailable):
    """Failing fast: recent calls failed and the cooldown has not passed."""


class LLMBadResponse(LLMError):
    """The server answered, but with a status or body the client cannot use."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LLMSchemaError(LLMBadResponse):
    """The answer was not JSON matching the requested schema."""


@runtime_checkable
class LLM(Protocol):
    """A chat model behind some server; every method raises only `LLMError` subclasses."""

    async def chat_json(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
    ) -> dict[str, Any]:
        """Answer constrained to `schema` (a JSON Schema object), parsed and validated."""
        ...

    async def chat_text(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 400,
        temperature: float = 0.2,
    ) -> str:
        """Free-text answer."""
        ...

    async def health(self) -> bool:
        """True when the server answers and serves models; never raises."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
