"""What an outsider can send a `pmark serve`, and what the server's key endpoint can do to it.

Shared by tests/reliability/test_outsiders.py and benchmarks/bench_outsiders.py.

- `KeyEndpoint`: the Bot Framework OpenID metadata and key set on a local listener whose
  behaviour the caller switches: "ok" (serves the stub's keys), "blackhole" (accepts the
  connection, never answers) or "slow" (answers headers, then a byte a second).
- `ATTACKS`: unauthenticated or malformed requests, each with the statuses that are right.
- `healthz_latency`, `rss_kb`, `handler_errors`: what the server looks like meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import jwt

from tests.bot.support import APP_ID, APP_PASSWORD, ISSUER, Stub, slack_headers, teams_message

MODES = ("ok", "blackhole", "slow")


@dataclass
class KeyEndpoint:
    """A switchable OpenID metadata + JWKS listener on loopback."""

    stub: Stub
    mode: str = "ok"
    connections: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MODES, 0))
    port: int = 0
    last_connection: float = 0.0  # time.monotonic() of the last connection
    _server: asyncio.Server | None = None
    _held: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/openid"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def forgotten(self, remembered: float = 5.0, fetch: float = 4.0) -> None:
        """Wait until the server has given up its last fetch and forgotten that it failed."""
        wait = self.last_connection + fetch + remembered + 0.5 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def stop(self) -> None:
        for writer in list(self._held):
            writer.close()
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        mode = self.mode
        self.connections[mode] += 1
        self.last_connection = time.monotonic()
        self._held.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            if mode == "blackhole":
                await asyncio.sleep(3600)
            if path.startswith("/jwks"):
                body = json.dumps(self.stub.jwks()).encode()
            else:
                body = json.dumps(
                    {"issuer": ISSUER, "jwks_uri": f"http://127.0.0.1:{self.port}/jwks"}
                ).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            )
            if mode == "slow":
                for byte in body:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(1.0)
            writer.write(body)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, IndexError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._held.discard(writer)
            writer.close()


# Attacks ------------------------------------------------------------------------------------

REFUSED = frozenset({400, 401, 403, 408, 413, 415})


@dataclass(frozen=True)
class Attack:
    """One hostile request: path, body, headers, and the statuses that are right."""

    name: str
    path: str
    body: bytes
    headers: dict[str, str]
    expect: frozenset[int] = REFUSED


def _now() -> str:
    return str(int(time.time()))


def _forged(claims: dict[str, Any], **header: Any) -> str:
    alg = header.pop("alg", "HS256")
    key = None if alg == "none" else APP_PASSWORD + "-padded-to-32-bytes-for-hmac"
    return "Bearer " + jwt.encode(claims, key, algorithm=alg, headers=header or None)


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": APP_ID, "exp": now + 600, "nbf": now - 60, **over}


def attacks(stub: Stub, service_url: str = "https://smba.example.com/") -> list[Attack]:
    """The outsider's requests (built now: timestamps and tokens are fresh)."""
    json_ct = {"Content-Type": "application/json"}
    form_ct = {"Content-Type": "application/x-www-form-urlencoded"}
    message = json.dumps(teams_message(service_url, "2공장 펌프 누유")).encode()
    big_form = urlencode({"command": "/pmark", "text": "a" * 131_072}).encode()
    big_json = json.dumps({"type": "event_callback", "token": "a" * 900_000}).encode()
    url_like = ("a" * 60_000 + "://" + "b:" * 20_000).encode()
    deep = b"[" * 50_000
    stale = slack_headers("x", age=3600)
    foreign = stub.channel_token(service_url, audience="00000000-0000-0000-0000-00000000beef")
    return [
        Attack("slack-commands-128k-unsigned", "/slack/commands", big_form, form_ct),
        Attack("slack-events-900k-json-unsigned", "/slack/events", big_json, json_ct),
        Attack("slack-events-url-like-unsigned", "/slack/events", url_like, json_ct),
        Attack("slack-events-not-json-unsigned", "/slack/events", b"hello", json_ct),
        Attack("slack-events-array-unsigned", "/slack/events", b"[]", json_ct),
        Attack("slack-events-deep-unsigned", "/slack/events", deep, json_ct),
        Attack(
            "slack-actions-payload-not-object",
            "/slack/actions",
            b"payload=%5B1%5D",
            {**form_ct, "X-Slack-Request-Timestamp": _now(), "X-Slack-Signature": "v0=" + "0" * 64},
        ),
        Attack(
            "slack-4301-digit-timestamp",
            "/slack/events",
            b"{}",
            {**json_ct, "X-Slack-Request-Timestamp": "9" * 4301, "X-Slack-Signature": "v0=0"},
        ),
        Attack("slack-stale-signature", "/slack/events", b"x", {**json_ct, **stale}),
        Attack("teams-no-authorization", "/api/messages", message, json_ct),
        Attack(
            "teams-alg-none",
            "/api/messages",
            message,
            {**json_ct, "Authorization": _forged(_claims(), alg="none")},
        ),
        Attack(
            "teams-hs256",
            "/api/messages",
            message,
            {**json_ct, "Authorization": _forged(_claims(), kid="pmark-test-key")},
        ),
        Attack(
            "teams-expired",
            "/api/messages",
            message,
            {
                **json_ct,
                "Authorization": "Bearer " + stub.channel_token(service_url, lifetime=-3600),
            },
        ),
        Attack(
            "teams-wrong-audience",
            "/api/messages",
            message,
            {**json_ct, "Authorization": "Bearer " + foreign},
        ),
        Attack(
            "teams-garbage-token",
            "/api/messages",
            message,
            {**json_ct, "Authorization": "Bearer x"},
        ),
    ]


async def send(
    http: aiohttp.ClientSession, base: str, attack: Attack, timeout: float = 30.0
) -> tuple[int, float]:
    """Post one attack; (status, seconds)."""
    started = time.perf_counter()
    async with http.post(
        base + attack.path,
        data=attack.body,
        headers=attack.headers,
        skip_auto_headers=["Content-Type"],
        timeout=aiohttp.ClientTimeout(total=timeout),
    ) as resp:
        await resp.read()
        return resp.status, time.perf_counter() - started


# Observations -------------------------------------------------------------------------------


async def healthz_latency(
    http: aiohttp.ClientSession, base: str, count: int = 20, gap: float = 0.02
) -> list[float]:
    """Seconds of `count` sequential /healthz calls."""
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        async with http.get(base + "/healthz", timeout=aiohttp.ClientTimeout(total=120)) as r:
            await r.read()
            assert r.status == 200
        seconds.append(time.perf_counter() - started)
        await asyncio.sleep(gap)
    return seconds


async def under_attack(
    http: aiohttp.ClientSession,
    base: str,
    attack: Callable[[], Any],
) -> tuple[list[float], Any]:
    """/healthz latencies measured while `attack()` runs; (latencies, attack's result)."""
    task = asyncio.ensure_future(attack())
    seconds: list[float] = []
    while not task.done() or not seconds:
        seconds += await healthz_latency(http, base, count=1, gap=0.01)
    return seconds, await task


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def rss_kb(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def handler_errors(http: aiohttp.ClientSession, base: str) -> float:
    """The sum of pmark_handler_errors_total over its channels."""
    async with http.get(base + "/metrics") as resp:
        text = await resp.text()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("pmark_handler_errors_total{")
    )
