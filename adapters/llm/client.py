"""OpenAI-compatible chat client (vLLM in production, llama.cpp's server in tests).

One pooled httpx.AsyncClient; every call has a total deadline (`timeout`, retries included),
bounded retries with exponential backoff and jitter on connect errors, 429 and 5xx, a circuit
breaker that fails fast while the server is down, a TTL cache keyed by the full request, and
coalescing of identical requests that are in flight at the same time.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypeVar

import httpx
from cachetools import TTLCache
from prometheus_client import Counter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
)

from adapters.llm.base import (
    LLMBadResponse,
    LLMError,
    LLMSchemaError,
    LLMTimeout,
    LLMUnavailable,
)
from adapters.llm.resilience import CircuitBreaker
from adapters.llm.schema import schema_errors
from adapters.llm.shared_cache import AnswerCache
from adapters.tracing import span

log = logging.getLogger(__name__)

# Every logical call (retries inside it are one), by outcome: ok, timeout, unavailable (the
# server or the circuit), bad_answer (it answered, not usably), error.
LLM_REQUESTS = Counter("pmark_llm_requests_total", "LLM calls by outcome", ["outcome"])

T = TypeVar("T")
ResponseFormat = Literal["auto", "json_schema", "json_object"]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Errors where the request most likely never reached the model, or the connection died under it;
# a chat completion has no side effects, so repeating it is safe.
RETRY_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)
_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)
_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]+")


class _Retryable(LLMUnavailable):
    """A failed attempt worth repeating; `delay` is the server's Retry-After, if any."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class _FormatRejected(LLMBadResponse):
    """The server refused the request's response_format (llama-cpp-python: json_schema)."""


class OpenAICompatibleLLM:
    """`LLM` over `/v1/chat/completions` of vLLM, llama-cpp-python or any OpenAI-style server.

    Use one instance per event loop (its cache, breaker and in-flight map are loop-local).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 8.0,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        max_retries: int = 2,
        backoff_base: float = 0.2,
        backoff_max: float = 2.0,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        cache_ttl: float = 300.0,
        cache_size: int = 1024,
        max_connections: int = 16,
        response_format: ResponseFormat = "auto",
        extra_body: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        shared_cache: AnswerCache | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.extra_body = dict(extra_body or {})
        self.breaker = CircuitBreaker(breaker_threshold, breaker_cooldown, clock)
        # LRU with a time to live, on the client's clock; size 0 or ttl 0 turns it off.
        self._cache: TTLCache[str, Any] | None = (
            TTLCache(cache_size, cache_ttl, timer=clock)
            if cache_ttl > 0 and cache_size > 0
            else None
        )
        # Behind the per-process cache: answers other worker processes already paid for.
        self._shared_cache = shared_cache if self._cache is not None else None
        self._cache_ttl = cache_ttl
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        # "auto" starts with OpenAI's json_schema and switches to llama-cpp-python's
        # {"type": "json_object", "schema": ...} if the server rejects the former.
        self._format: ResponseFormat = response_format
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=30.0,
            ),
            transport=transport,
        )

    async def __aenter__(self) -> OpenAICompatibleLLM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def chat_json(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
    ) -> dict[str, Any]:
        """Answer constrained to `schema`, parsed and validated against it."""
        key = _request_key("json", self.model, messages, schema, max_tokens, temperature)
        payload = self._payload(messages, max_tokens, temperature)

        async def run() -> dict[str, Any]:
            return await self._json_completion(payload, schema)

        with span("pmark.llm chat_json", **self._span_attributes()):
            result: dict[str, Any] = await self._shared(key, run)
        return copy.deepcopy(result)

    async def chat_text(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 400,
        temperature: float = 0.2,
    ) -> str:
        """Free-text answer (any leading <think> block removed)."""
        key = _request_key("text", self.model, messages, None, max_tokens, temperature)
        payload = self._payload(messages, max_tokens, temperature)

        async def run() -> str:
            body = await self._post_chat(payload)
            content, _ = _content(body)
            return _THINK.sub("", content).strip()

        with span("pmark.llm chat_text", **self._span_attributes()):
            result: str = await self._shared(key, run)
        return result

    async def health(self) -> bool:
        """True when `/models` lists models and `/health` (if the server has it) is OK."""
        probe_timeout = min(self.timeout, 3.0)
        try:
            response = await self._http.get("models", timeout=probe_timeout)
            if response.status_code != 200:
                return False
            data = response.json().get("data")
            if not isinstance(data, list) or not data:
                return False
            root = re.sub(r"/v\d+$", "", self.base_url)
            response = await self._http.get(f"{root}/health", timeout=probe_timeout)
            # llama-cpp-python has no /health; vLLM answers 200 once the engine is up.
            return response.status_code in (200, 404, 405)
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    async def aclose(self) -> None:
        """Cancel coalesced calls still running and close the connection pool."""
        for future in list(self._inflight.values()):
            future.cancel()
        self._inflight.clear()
        await self._http.aclose()
        if self._shared_cache is not None:
            self._shared_cache.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _span_attributes(self) -> dict[str, Any]:
        # OpenTelemetry's GenAI semantic conventions, so trace viewers label the call.
        return {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": self.model,
            "server.address": self.base_url,
        }

    def _payload(
        self, messages: list[dict[str, str]], max_tokens: int, temperature: float
    ) -> dict[str, Any]:
        return {
            **self.extra_body,
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": False,
        }

    async def _shared(self, key: str, run: Callable[[], Awaitable[T]]) -> T:
        """Cached value, or join an identical call in flight, or start one (breaker permitting)."""
        cached = self._cache.get(key) if self._cache is not None else None
        if cached is None and self._shared_cache is not None:
            cached = self._shared_cache.get(key)
            if cached is not None and self._cache is not None:
                self._cache[key] = cached
        if cached is not None:
            return copy.deepcopy(cached)  # type: ignore[no-any-return]
        future = self._inflight.get(key)
        if future is None:
            self.breaker.before_call()
            future = asyncio.ensure_future(self._guarded(key, run))
            self._inflight[key] = future
            future.add_done_callback(lambda done: self._settle(key, done))
        try:
            # shield: one caller giving up must not cancel the call the others wait for.
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if future.cancelled() and (current is None or not current.cancelling()):
                raise LLMUnavailable("LLM client was closed during the call") from None
            raise

    def _settle(self, key: str, future: asyncio.Future[Any]) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if not future.cancelled():
            future.exception()  # mark retrieved even if every waiter went away

    async def _guarded(self, key: str, run: Callable[[], Awaitable[T]]) -> T:
        """One logical call: total deadline, breaker bookkeeping, cache fill."""
        try:
            try:
                async with asyncio.timeout(self.timeout):
                    result = await run()
            except TimeoutError:
                raise LLMTimeout(f"LLM call exceeded {self.timeout:.1f}s") from None
        except LLMUnavailable as exc:
            LLM_REQUESTS.labels("timeout" if isinstance(exc, LLMTimeout) else "unavailable").inc()
            self.breaker.record_failure()
            log.warning("LLM unavailable (breaker %s): %s", self.breaker.state, exc)
            raise
        except LLMError:
            LLM_REQUESTS.labels("bad_answer").inc()
            self.breaker.record_success()  # it answered; the request or answer was the problem
            raise
        except asyncio.CancelledError:
            self.breaker.release_probe()
            raise
        except Exception as exc:  # never leak a raw library error to callers
            LLM_REQUESTS.labels("error").inc()
            self.breaker.record_failure()
            raise LLMUnavailable(f"LLM call failed: {exc!r}") from exc
        LLM_REQUESTS.labels("ok").inc()
        self.breaker.record_success()
        if self._cache is not None:
            self._cache[key] = result
        if self._shared_cache is not None:
            self._shared_cache.set(key, result, self._cache_ttl)
        return result

    async def _json_completion(
        self, payload: dict[str, Any], schema: dict[str, Any]
    ) -> dict[str, Any]:
        name = _SCHEMA_NAME.sub("_", str(schema.get("title") or "response"))[:64]
        formats: list[ResponseFormat] = (
            ["json_schema", "json_object"] if self._format == "auto" else [self._format]
        )
        for index, fmt in enumerate(formats):
            if fmt == "json_schema":
                response_format: dict[str, Any] = {
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": schema, "strict": True},
                }
            else:
                response_format = {"type": "json_object", "schema": schema}
            try:
                body = await self._post_chat({**payload, "response_format": response_format})
            except _FormatRejected:
                if index + 1 < len(formats):
                    log.info("server rejected json_schema response_format; using json_object")
                    continue
                raise
            if self._format == "auto":
                self._format = fmt
            content, finish = _content(body)
            return _parse_json(content, schema, truncated=finish == "length")
        raise AssertionError("unreachable")

    async def _post_chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST chat/completions with bounded retries; returns the decoded body."""
        attempts = self.max_retries + 1
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(attempts),
            wait=self._backoff,
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._post_once(payload)
        except _Retryable as exc:
            raise LLMUnavailable(f"{exc} (after {attempts} attempts)") from exc
        raise AssertionError("unreachable")

    def _backoff(self, state: RetryCallState) -> float:
        """Exponential backoff with equal jitter, stretched to the server's Retry-After."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (state.attempt_number - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        failed = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failed, _Retryable) and failed.delay is not None:
            delay = min(max(delay, failed.delay), self.backoff_max)
        return delay

    async def _post_once(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._http.post("chat/completions", json=payload)
        except RETRY_EXCEPTIONS as exc:
            raise _Retryable(f"LLM connection failed: {exc!r}") from exc
        except httpx.TimeoutException as exc:
            raise LLMTimeout(f"LLM request timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"LLM request failed: {exc!r}") from exc
        status = response.status_code
        # llama-cpp-python answers 500 (not 4xx) when request validation fails.
        if status in (400, 422, 500) and "response_format" in response.text[:4000]:
            raise _FormatRejected(
                f"LLM server rejected response_format ({status}): {response.text[:300]}",
                status=status,
            )
        if status in RETRY_STATUSES:
            raise _Retryable(f"LLM server answered {status}", _retry_after(response))
        if status != 200:
            raise LLMBadResponse(
                f"LLM server answered {status}: {response.text[:500]}", status=status
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise LLMBadResponse(f"LLM answer is not JSON: {response.text[:200]!r}") from exc
        if not isinstance(body, dict):
            raise LLMBadResponse("LLM answer is not a JSON object")
        return body


def _log_retry(state: RetryCallState) -> None:
    failed = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    log.debug("LLM attempt %d failed (%s); retrying in %.2fs", state.attempt_number, failed, wait)


def _request_key(
    kind: str,
    model: str,
    messages: list[dict[str, str]],
    schema: dict[str, Any] | None,
    max_tokens: int,
    temperature: float,
) -> str:
    raw = json.dumps(
        [kind, model, messages, schema, max_tokens, temperature],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _content(body: dict[str, Any]) -> tuple[str, str | None]:
    """The first choice's message text and finish reason."""
    try:
        choice = body["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMBadResponse(f"LLM answer has no message content: {str(body)[:200]}") from exc
    if not isinstance(content, str):
        raise LLMBadResponse("LLM message content is not text")
    finish = choice.get("finish_reason")
    return content, finish if isinstance(finish, str) else None


def _unfence(text: str) -> str:
    r"""The inside of a ```json … ``` fence around the whole text, else the text.

    Written out rather than as `^\s*```(?:json)?\s*(.*?)\s*```\s*$`, which re-scans the trailing
    spaces from every position of its lazy group: quadratic in a long run of spaces.
    """
    stripped = text.strip()
    if len(stripped) < 6 or not (stripped.startswith("```") and stripped.endswith("```")):
        return text
    inner = stripped[3:-3]
    return (inner[4:] if inner.startswith("json") else inner).strip()


def _parse_json(content: str, schema: dict[str, Any], *, truncated: bool) -> dict[str, Any]:
    text = _unfence(_THINK.sub("", content))
    try:
        value = json.loads(text)
    except ValueError as exc:
        hint = " (cut off at max_tokens)" if truncated else ""
        raise LLMSchemaError(f"LLM answer is not valid JSON{hint}: {content[:200]!r}") from exc
    if not isinstance(value, dict):
        raise LLMSchemaError(f"LLM answer is not a JSON object: {content[:200]!r}")
    errors = schema_errors(value, schema)
    if errors:
        raise LLMSchemaError("LLM answer does not match the schema: " + "; ".join(errors[:5]))
    return value
