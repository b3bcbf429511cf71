"""botbuilder's Bot Connector calls over one pooled aiohttp session, not a requests session each.

botbuilder builds a new ConnectorClient per incoming activity, and msrest's default async pipeline
gives each a new `requests.Session` driven from a thread pool: a new TCP (and TLS) connection for
every reply, a thread hop per call, and requests' pure-Python request building under the GIL.
The pipeline here keeps botbuilder's operations, models and wire format (the protocol stays
botbuilder's) and swaps the transport for one aiohttp session with keep-alive, shared by every
client of the process. aiohttp rather than httpx: its C HTTP parser costs a fraction of httpx's
pure-Python stack per call, measured under load (bench_http, 1 worker: httpx's request path alone
held the GIL for 15% of the run). Retries as msrest's requests driver made them where a repeat
cannot post a reply twice: a connection never established, and 408/502/503/504 (the request did
not reach the service); three retries, exponential backoff, Retry-After honoured up to a cap.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from botframework.connector.auth import AppCredentials, ConnectorFactory
from cachetools import LRUCache, TTLCache
from msrest.pipeline import Request, Response, SansIOHTTPPolicy
from msrest.pipeline.async_abc import AsyncHTTPSender, AsyncPipeline
from msrest.pipeline.universal import RawDeserializer
from msrest.serialization import Serializer
from msrest.universal_http.async_abc import AsyncClientResponse
from multidict import CIMultiDict
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
)
from tenacity.wait import wait_base
from yarl import URL

from adapters.channels.connector_json import JsonPassthroughSerializer

RETRY_STATUS = frozenset({408, 502, 503, 504})
MAX_RETRY_AFTER = 10.0  # seconds: a longer wait is the spool's job, not the reply's


class _Answer:
    """What came back: status, headers and the whole body."""

    def __init__(self, status: int, reason: str | None, headers: CIMultiDict[str], body: bytes):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body


class _AioResponse(AsyncClientResponse):
    """msrest's view of an answer (body already read)."""

    def __init__(self, request: Any, answer: _Answer) -> None:
        super().__init__(request, answer)
        self.status_code = answer.status
        self.headers = answer.headers
        self.reason = answer.reason
        self._body = answer.body

    def body(self) -> bytes:
        return self._body


def _retry_after(answer: _Answer) -> float | None:
    value = answer.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def _pause(answer: _Answer | None, attempt: int, factor: float) -> float:
    """The wait after attempt `attempt` (1 = the first): the server's Retry-After when its
    answer gave one, else exponential backoff as urllib3 did it (0.8 s factor); capped."""
    after = _retry_after(answer) if answer is not None else None
    if after is not None:
        return min(after, MAX_RETRY_AFTER)
    return float(min(MAX_RETRY_AFTER, factor * 2 ** (attempt - 1)))


class _Backoff(wait_base):
    """`_pause` for tenacity's attempts, which come after `done` made without it."""

    def __init__(self, factor: float, done: int) -> None:
        self._factor = factor
        self._done = done

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        answer = outcome.result() if outcome is not None and not outcome.failed else None
        return _pause(answer, retry_state.attempt_number + self._done, self._factor)


def _last_outcome(state: RetryCallState) -> _Answer:
    assert state.outcome is not None  # tenacity calls this only after an attempt
    answer: _Answer = state.outcome.result()
    return answer


class PooledSender(AsyncHTTPSender[Any, Any]):
    """The last step of msrest's pipeline: the request over the process's aiohttp session."""

    def __init__(
        self,
        timeout: float,
        retries: int = 3,
        backoff: float = 0.8,
        connections: int = 64,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._backoff = backoff
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._proxies: LRUCache[tuple[str, str], str | None] = LRUCache(256)
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # between attempts

    async def __aenter__(self) -> PooledSender:
        return self

    async def __aexit__(self, *exc_details: Any) -> None:
        """The session is the process's, not one client's: closed by `aclose`."""

    async def aclose(self) -> None:
        """Close the pooled connections (at shutdown)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def build_context(self) -> None:
        return None

    def _pool(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the running loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                timeout=self._timeout,
            )
        return self._session

    def _proxy(self, url: URL) -> str | None:
        """The proxy HTTP(S)_PROXY / NO_PROXY name for this host, as requests honoured them (a
        plant network's way out). Read once per host: aiohttp's trust_env looks it up on a
        worker thread for every request."""
        key = (url.scheme, url.host or "")
        if key not in self._proxies:
            proxies = urllib.request.getproxies()
            bypass = urllib.request.proxy_bypass(key[1]) if key[1] else True
            self._proxies[key] = None if bypass else proxies.get(key[0])
        return self._proxies[key]

    async def _once(self, request: Any) -> _Answer:
        # encoded=True: the path as msrest quoted it (Teams ids hold ';', '=', ':' and '@',
        # which yarl would otherwise unquote).
        url = URL(request.url, encoded=True)
        async with self._pool().request(
            request.method,
            url,
            headers=request.headers,
            data=request.data,
            proxy=self._proxy(url),
        ) as response:
            body = await response.read()
            return _Answer(response.status, response.reason, response.headers.copy(), body)

    async def send(self, request: Request[Any], **_config: Any) -> Response[Any, Any]:
        """Send with the retry rules above; the last answer (or error) is what the caller sees."""
        http_request = request.http_request
        if http_request.files:
            raise ValueError("multipart uploads are not supported by the pooled connector")
        # Nearly every call succeeds at once: tenacity's machinery (a retry state, its policy
        # objects) is built only when a first attempt asks for a retry (~1% of a busy
        # process's CPU otherwise).
        answer: _Answer | None = None
        try:
            answer = await self._once(http_request)
        except aiohttp.ClientConnectorError:
            if self._retries < 1:
                raise
        if answer is not None and (answer.status not in RETRY_STATUS or self._retries < 1):
            return Response(request, _AioResponse(http_request, answer))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retries),
            wait=_Backoff(self._backoff, done=1),
            retry=retry_if_exception_type(aiohttp.ClientConnectorError)
            | retry_if_result(lambda answer: answer.status in RETRY_STATUS),
            # Out of retries: the last answer goes to botbuilder (which raises on its status),
            # the last connection error is raised as is.
            retry_error_callback=_last_outcome,
            sleep=self.sleep,
        )
        # The pause tenacity would have made before its second attempt.
        first = _pause(answer, 1, self._backoff)
        if first > 0:
            await self.sleep(first)
        final: _Answer = await retrying(self._once, http_request)
        return Response(request, _AioResponse(http_request, final))


class BearerPolicy(SansIOHTTPPolicy[Any, Any]):
    """The Authorization header botbuilder's credentials would have put on a requests session."""

    def __init__(self, credentials: AppCredentials) -> None:
        # Replaced with fresher credentials each time a cached client is handed out again.
        self.credentials = credentials

    def on_request(self, request: Request[Any], **kwargs: Any) -> None:
        credentials = self.credentials
        # Anonymous (emulator mode, no app id) sends no header, as AppCredentials does.
        if credentials.microsoft_app_id and credentials._should_set_token(None):
            token = credentials.get_access_token()
            request.http_request.headers["Authorization"] = f"Bearer {token}"


def pooled_pipeline(
    config: Any, sender: PooledSender
) -> tuple[AsyncPipeline[Any, Any], BearerPolicy | None] | None:
    """msrest's default policies with the pooled sender, and the policy holding the credentials;
    None when they are not botbuilder's AppCredentials (the client keeps its own pipeline)."""
    credentials = config.credentials
    if credentials is not None and not isinstance(credentials, AppCredentials):
        return None
    policies: list[Any] = [config.user_agent_policy, RawDeserializer(), config.http_logger_policy]
    bearer = BearerPolicy(credentials) if credentials is not None else None
    if bearer is not None:
        policies.insert(1, bearer)
    return AsyncPipeline(policies, sender), bearer


def _use_serializer(client: Any) -> None:
    serializer = JsonPassthroughSerializer(client._serialize.dependencies)  # type: ignore[no-untyped-call]
    client._serialize = serializer
    # Generated operation groups keep their own reference (msrest's generated-client layout).
    for group in vars(client).values():
        if not isinstance(group, Serializer) and hasattr(group, "_serialize"):
            group._serialize = serializer


# What botbuilder's connector factory (`_ConnectorFactoryImpl`) keeps: enough to ask its
# credential factory for fresh credentials without building a client.
_FACTORY_FIELDS = (
    "_credential_factory",
    "_app_id",
    "_to_channel_from_bot_oauth_scope",
    "_login_endpoint",
    "_validate_authority",
)


_Key = tuple[str, str, str]  # service URL, app id, audience


class ConnectorPool:
    """The process's Bot Connector transport and the clients made over it.

    botbuilder builds a ConnectorClient (msrest configuration, retry policy, config parser,
    serializers: ~1 ms of GIL) for every activity; a client is stateless between calls, so one
    per (service URL, audience) is kept and handed fresh credentials each time.
    """

    def __init__(self, sender: PooledSender, size: int = 256, ttl: float = 600.0) -> None:
        self.sender = sender
        self._clients: TTLCache[_Key, tuple[Any, BearerPolicy]] = TTLCache(size, ttl)

    async def aclose(self) -> None:
        """Close the pooled connections (at shutdown)."""
        self._clients.clear()
        await self.sender.aclose()

    async def client(self, inner: ConnectorFactory, service_url: str, audience: str | None) -> Any:
        """A client for the service URL: a kept one with fresh credentials, or a new one."""
        fields: list[Any] = [getattr(inner, name, None) for name in _FACTORY_FIELDS]
        if fields[0] is None or fields[2] is None:  # not botbuilder's factory: no reuse
            return self._adopt(await inner.create(service_url, audience))[0]
        credential_factory, app_id, scope, login, validate = fields
        key = (service_url, str(app_id), str(audience or scope))
        kept = self._clients.get(key)
        if kept is None:
            client, policy = self._adopt(await inner.create(service_url, audience))
            if policy is not None:
                self._clients[key] = (client, policy)
            return client
        credentials = await credential_factory.create_credentials(
            app_id, audience or scope, login, validate
        )
        client, policy = kept
        if not isinstance(credentials, AppCredentials):
            return self._adopt(await inner.create(service_url, audience))[0]
        client.config.credentials = credentials
        policy.credentials = credentials
        return client

    def _adopt(self, client: Any) -> tuple[Any, BearerPolicy | None]:
        pooled = pooled_pipeline(client.config, self.sender)
        if pooled is None:
            return client, None
        client.config.pipeline, bearer = pooled
        _use_serializer(client)
        return client, bearer


class PooledConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    """botbuilder's connector factory, with its clients kept and sending through the pool."""

    def __init__(self, inner: ConnectorFactory, pool: ConnectorPool) -> None:
        self._inner = inner
        self._pool = pool

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        return await self._pool.client(self._inner, service_url, audience)
