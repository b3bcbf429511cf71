"""Fault behaviour of OpenAICompatibleLLM over httpx.MockTransport: retries, breaker, deadline,
cache, coalescing, format fallback and error mapping."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

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
from tests.fake_secrets import LLM_API_KEY

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"color": {"type": ["string", "null"], "enum": ["red", "blue", None]}},
    "required": ["color"],
    "additionalProperties": False,
}
MESSAGES = [{"role": "user", "content": "What color is the sky?"}]

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def completion(content: str | dict[str, Any], finish_reason: str = "stop") -> dict[str, Any]:
    """A /chat/completions response body carrying `content`."""
    text = content if isinstance(content, str) else json.dumps(content)
    message = {"role": "assistant", "content": text}
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]}


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Server:
    """Records requests and answers with a scripted sequence (the last item repeats)."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return await answer(request)

    @property
    def chat_calls(self) -> int:
        return sum(r.url.path.endswith("/chat/completions") for r in self.requests)


def ok(content: str | dict[str, Any] = '{"color": "blue"}') -> httpx.Response:
    return httpx.Response(200, json=completion(content))


def client(server: Server, **kwargs: Any) -> OpenAICompatibleLLM:
    options: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05, "timeout": 2.0}
    options.update(kwargs)
    return OpenAICompatibleLLM(
        "http://llm.test/v1", "m", transport=httpx.MockTransport(server), **options
    )


async def test_is_an_llm() -> None:
    llm = client(Server(ok()))
    assert isinstance(llm, LLM)
    await llm.aclose()


async def test_request_shape_uses_strict_json_schema_and_bearer_token() -> None:
    server = Server(ok())
    llm = client(server, api_key=LLM_API_KEY)
    assert await llm.chat_json(MESSAGES, SCHEMA, max_tokens=33) == {"color": "blue"}
    request = server.requests[0]
    body = json.loads(request.content)
    assert str(request.url) == "http://llm.test/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {LLM_API_KEY}"
    assert body["model"] == "m" and body["max_tokens"] == 33 and body["temperature"] == 0.0
    assert body["messages"] == MESSAGES
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": SCHEMA, "strict": True},
    }
    await llm.aclose()


async def test_retries_on_503_then_succeeds() -> None:
    server = Server(httpx.Response(503), httpx.Response(503), ok())
    llm = client(server, max_retries=2)
    assert await llm.chat_json(MESSAGES, SCHEMA) == {"color": "blue"}
    assert server.chat_calls == 3
    await llm.aclose()


async def test_retries_on_connect_error_and_429() -> None:
    server = Server(
        httpx.ConnectError("refused"), httpx.Response(429, headers={"retry-after": "0"}), ok()
    )
    llm = client(server, max_retries=2)
    assert await llm.chat_text(MESSAGES) == '{"color": "blue"}'
    assert server.chat_calls == 3
    await llm.aclose()


async def test_retries_are_bounded() -> None:
    server = Server(httpx.Response(502))
    llm = client(server, max_retries=2)
    with pytest.raises(LLMUnavailable, match="502"):
        await llm.chat_json(MESSAGES, SCHEMA)
    assert server.chat_calls == 3
    await llm.aclose()


async def test_client_error_is_not_retried_and_does_not_open_the_circuit() -> None:
    server = Server(httpx.Response(400, json={"error": "context too long"}))
    llm = client(server, breaker_threshold=1)
    for _ in range(3):
        with pytest.raises(LLMBadResponse) as caught:
            await llm.chat_json(MESSAGES, SCHEMA)
        assert caught.value.status == 400
    assert server.chat_calls == 3
    assert llm.breaker.state == "closed"
    await llm.aclose()


async def test_circuit_opens_fails_fast_and_half_opens_after_cooldown() -> None:
    clock = Clock()
    server = Server(httpx.Response(503))
    llm = client(server, max_retries=0, breaker_threshold=3, breaker_cooldown=10.0, clock=clock)
    for _ in range(3):
        with pytest.raises(LLMUnavailable) as caught:
            await llm.chat_text(MESSAGES)
        assert not isinstance(caught.value, CircuitOpen)
    assert server.chat_calls == 3 and llm.breaker.state == "open"

    started = time.perf_counter()
    with pytest.raises(CircuitOpen):
        await llm.chat_text(MESSAGES)
    assert time.perf_counter() - started < 0.05
    assert server.chat_calls == 3  # failed fast, nothing sent

    clock.now += 10.0  # cooldown over: one probe goes out; it fails, so the circuit re-opens
    with pytest.raises(LLMUnavailable) as caught:
        await llm.chat_text(MESSAGES)
    assert not isinstance(caught.value, CircuitOpen)
    assert server.chat_calls == 4 and llm.breaker.state == "open"
    with pytest.raises(CircuitOpen):
        await llm.chat_text(MESSAGES)

    server.answers = [ok("fine")]
    clock.now += 10.0  # the next probe succeeds and closes the circuit
    assert await llm.chat_text(MESSAGES) == "fine"
    assert llm.breaker.state == "closed"
    assert await llm.chat_text([{"role": "user", "content": "again"}]) == "fine"
    await llm.aclose()


async def test_half_open_circuit_lets_only_one_probe_through() -> None:
    clock = Clock()
    release = asyncio.Event()

    async def slow_ok(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return ok("probe")

    server = Server(httpx.Response(503), slow_ok)
    llm = client(server, max_retries=0, breaker_threshold=1, breaker_cooldown=5.0, clock=clock)
    with pytest.raises(LLMUnavailable):
        await llm.chat_text(MESSAGES)
    clock.now += 5.0
    probe = asyncio.ensure_future(llm.chat_text(MESSAGES))
    await asyncio.sleep(0.01)
    with pytest.raises(CircuitOpen):  # a different request while the probe is out
        await llm.chat_text([{"role": "user", "content": "other"}])
    release.set()
    assert await probe == "probe"
    assert llm.breaker.state == "closed"
    await llm.aclose()


async def test_deadline_raises_llm_timeout_within_the_timeout() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return ok()

    llm = client(Server(hang), timeout=0.3)
    started = time.perf_counter()
    with pytest.raises(LLMTimeout):
        await llm.chat_json(MESSAGES, SCHEMA)
    assert time.perf_counter() - started < 1.0
    await llm.aclose()


async def test_httpx_timeouts_and_odd_transport_errors_become_llm_errors() -> None:
    llm = client(Server(httpx.ReadTimeout("slow")))
    with pytest.raises(LLMTimeout):
        await llm.chat_text(MESSAGES)
    await llm.aclose()
    llm = client(Server(httpx.UnsupportedProtocol("gopher")))
    with pytest.raises(LLMError):
        await llm.chat_text(MESSAGES)
    await llm.aclose()
    llm = client(Server(RuntimeError("transport bug")))
    with pytest.raises(LLMError):
        await llm.chat_text(MESSAGES)
    await llm.aclose()


async def test_cache_hit_avoids_a_second_request_until_ttl() -> None:
    clock = Clock()
    server = Server(ok())
    llm = client(server, cache_ttl=60.0, clock=clock)
    first = await llm.chat_json(MESSAGES, SCHEMA)
    first["color"] = "mutated by caller"
    assert await llm.chat_json(MESSAGES, SCHEMA) == {"color": "blue"}
    assert server.chat_calls == 1
    await llm.chat_json(MESSAGES, SCHEMA, max_tokens=99)  # other params: another request
    assert server.chat_calls == 2
    clock.now += 61.0
    await llm.chat_json(MESSAGES, SCHEMA)
    assert server.chat_calls == 3
    await llm.aclose()


async def test_failures_are_not_cached() -> None:
    server = Server(httpx.Response(500), ok())
    llm = client(server, max_retries=0)
    with pytest.raises(LLMUnavailable):
        await llm.chat_json(MESSAGES, SCHEMA)
    assert await llm.chat_json(MESSAGES, SCHEMA) == {"color": "blue"}
    assert server.chat_calls == 2
    await llm.aclose()


async def test_concurrent_identical_calls_share_one_request() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.1)
        return ok()

    server = Server(slow)
    llm = client(server, cache_ttl=0)
    results = await asyncio.gather(*(llm.chat_json(MESSAGES, SCHEMA) for _ in range(5)))
    assert results == [{"color": "blue"}] * 5
    assert server.chat_calls == 1
    other = [{"role": "user", "content": "different"}]
    await asyncio.gather(llm.chat_json(MESSAGES, SCHEMA), llm.chat_json(other, SCHEMA))
    assert server.chat_calls == 3
    await llm.aclose()


async def test_coalesced_callers_share_errors_and_survive_one_cancelling() -> None:
    async def slow_fail(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.1)
        return httpx.Response(503)

    server = Server(slow_fail)
    llm = client(server, max_retries=0)
    leader = asyncio.ensure_future(llm.chat_text(MESSAGES))
    follower = asyncio.ensure_future(llm.chat_text(MESSAGES))
    await asyncio.sleep(0.02)
    leader.cancel()
    with pytest.raises(LLMUnavailable):
        await follower
    assert server.chat_calls == 1
    await llm.aclose()


async def test_answers_that_break_the_schema_raise_schema_errors() -> None:
    bad = [
        ok('{"color": "green"}'),  # not in the enum
        ok('{"colour": "red"}'),  # missing key, extra key
        ok("not json"),
        ok("[1, 2]"),
        httpx.Response(200, json=completion('{"color": "re', finish_reason="length")),
        httpx.Response(200, json={"choices": []}),
        httpx.Response(200, text="<html>"),
    ]
    for answer in bad:
        llm = client(Server(answer))
        with pytest.raises(LLMBadResponse):
            await llm.chat_json(MESSAGES, SCHEMA)
        assert llm.breaker.state == "closed"
        await llm.aclose()
    llm = client(Server(ok('{"color": "green"}')))
    with pytest.raises(LLMSchemaError, match="not in enum"):
        await llm.chat_json(MESSAGES, SCHEMA)
    await llm.aclose()


async def test_fenced_and_thinking_answers_are_unwrapped() -> None:
    llm = client(Server(ok('<think>sky...</think>\n```json\n{"color": null}\n```')))
    assert await llm.chat_json(MESSAGES, SCHEMA) == {"color": None}
    await llm.aclose()


LLAMA_CPP_REJECTION = (
    "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\"}"
)


@pytest.mark.parametrize("status", [500, 422])
async def test_auto_format_falls_back_to_json_object_schema_once(status: int) -> None:
    async def llama_cpp_style(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["response_format"]["type"] != "json_object":
            # llama-cpp-python 0.3.36 answers 500 with this message (FastAPI would say 422)
            error = {"message": LLAMA_CPP_REJECTION, "type": "internal_server_error"}
            return httpx.Response(status, json={"error": error})
        assert body["response_format"]["schema"] == SCHEMA
        return ok()

    server = Server(llama_cpp_style)
    llm = client(server)
    assert await llm.chat_json(MESSAGES, SCHEMA) == {"color": "blue"}
    assert server.chat_calls == 2
    await llm.chat_json(MESSAGES, SCHEMA, max_tokens=10)
    assert server.chat_calls == 3  # remembered: straight to json_object
    await llm.aclose()


async def test_health_over_mock_transport() -> None:
    def route(models: httpx.Response, health: httpx.Response) -> Handler:
        async def handle(request: httpx.Request) -> httpx.Response:
            return models if request.url.path == "/v1/models" else health

        return handle

    models = httpx.Response(200, json={"object": "list", "data": [{"id": "m"}]})
    cases = [
        (route(models, httpx.Response(200)), True),  # vLLM
        (route(models, httpx.Response(404)), True),  # llama-cpp-python has no /health
        (route(models, httpx.Response(503)), False),
        (route(httpx.Response(200, json={"data": []}), httpx.Response(200)), False),
        (route(httpx.Response(500), httpx.Response(200)), False),
        (route(httpx.Response(200, text="nope"), httpx.Response(200)), False),
    ]
    for handler, expected in cases:
        llm = client(Server(handler))
        assert await llm.health() is expected
        await llm.aclose()
    llm = client(Server(httpx.ConnectError("refused")))
    assert await llm.health() is False
    await llm.aclose()


async def test_closing_the_client_ends_waiting_calls_with_an_llm_error() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return ok()

    llm = client(Server(hang), timeout=5.0)
    call = asyncio.ensure_future(llm.chat_text(MESSAGES))
    await asyncio.sleep(0.05)
    await llm.aclose()
    with pytest.raises(LLMUnavailable, match="closed"):
        await call
    with pytest.raises(LLMError):  # and later calls too
        await llm.chat_text([{"role": "user", "content": "after close"}])
