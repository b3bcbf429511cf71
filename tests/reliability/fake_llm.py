"""An OpenAI-compatible chat server on loopback (aiohttp, in-process) that answers after a delay.

It answers what adapters/llm/client.py asks: `GET /v1/models`, and `POST /v1/chat/completions`
either with a `response_format` JSON schema (field extraction: every field null, which is valid
against the schema) or without one (the written answer: cites the first case it was given, so the
grounding check accepts it). Every chat request is recorded with the time it arrived.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MODEL = "fake-slow-model"
_CITE = re.compile(r"(?m)^\[([A-Za-z0-9_\-]{3,64})\] ")


@dataclass
class ChatCall:
    """One chat completion request."""

    at: float
    body: dict[str, Any]
    answered: bool = False

    @property
    def text(self) -> str:
        """All message contents, joined."""
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages") or [])

    @property
    def wants_json(self) -> bool:
        return "response_format" in self.body


@dataclass
class FakeLLM:
    """The server; `delay` seconds before each chat answer."""

    delay: float = 0.0
    calls: list[ChatCall] = field(default_factory=list)
    base: str = ""
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The base URL to configure as `llm_url`."""
        return f"{self.base}/v1"

    def calls_with(self, needle: str) -> list[ChatCall]:
        """Chat requests whose messages contain `needle`."""
        return [c for c in self.calls if needle in c.text]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _models(self, _: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        call = ChatCall(time.monotonic(), body)
        self.calls.append(call)
        if self.delay:
            await asyncio.sleep(self.delay)
        if call.wants_json:
            schema = _schema(body["response_format"])
            content = json.dumps({name: None for name in schema.get("properties", {})})
        else:
            cited = _CITE.findall(call.text)
            content = (
                f"[{cited[0]}] 사례처럼 먼저 씰과 체결부를 점검하세요. / Check the seal first."
                if cited
                else "점검이 필요합니다. / Please inspect."
            )
        call.answered = True
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.calls)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )


def _schema(response_format: dict[str, Any]) -> dict[str, Any]:
    if response_format.get("type") == "json_schema":
        return dict(response_format.get("json_schema", {}).get("schema") or {})
    return dict(response_format.get("schema") or {})
