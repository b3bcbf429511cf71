"""Bot Framework signing keys that survive an outage of the OpenID endpoints.

One `SigningKeys` per OpenID metadata URL. Keys are fetched with httpx under connect and read
timeouts, in a background task (never by the request that needs them), one fetch at a time.
A successful fetch is kept until the next one succeeds: while refreshes fail, the cached keys
keep validating. A failed fetch is remembered for `retry_after` seconds, during which a request
that needs a key nobody has is refused at once instead of starting another fetch. A request
waits for a fetch in flight at most `wait` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 2.0
FETCH_DEADLINE = 4.0  # the whole fetch (metadata, then keys), whatever the server trickles
REFRESH_EVERY = 24 * 3600.0  # botbuilder's period
UNKNOWN_KID_REFRESH = 300.0  # an unknown key id refetches at most this often
RETRY_AFTER = 5.0  # a failed fetch is remembered this long
WAIT = 1.0  # a request's wait for a fetch in flight (its 503 within 2 s, parsing included)
MAX_KEYS_BYTES = 1_000_000


class KeysUnavailable(Exception):
    """The signing keys cannot be had now (the request gets a 503)."""


class SigningKeys:
    """The JWKs of one OpenID metadata URL, fetched off the request path and cached."""

    def __init__(
        self,
        metadata_url: str,
        *,
        retry_after: float = RETRY_AFTER,
        wait: float = WAIT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = metadata_url
        self.retry_after = retry_after
        self.wait = wait
        self._transport = transport
        self._keys: dict[str, dict[str, Any]] = {}
        self.fetched_at: float | None = None
        self.failed_at: float | None = None
        self.error = ""
        self.fetches = 0
        self._task: asyncio.Task[None] | None = None

    # What requests see --------------------------------------------------------------------

    def find(self, kid: str) -> dict[str, Any] | None:
        """The key with this id from the cache (no I/O)."""
        return self._keys.get(kid)

    @property
    def usable(self) -> bool:
        """Whether there are keys to validate with (fresh or not)."""
        return bool(self._keys)

    def stale(self, now: float | None = None) -> bool:
        """Whether the keys are due for a refresh."""
        now = time.monotonic() if now is None else now
        return self.fetched_at is None or now - self.fetched_at >= REFRESH_EVERY

    @property
    def unavailable(self) -> bool:
        """No keys, and the last fetch failed: tokens cannot be validated now."""
        return not self._keys and self.failed_at is not None

    def failing(self, now: float | None = None) -> bool:
        """Whether the last fetch failed less than `retry_after` seconds ago."""
        now = time.monotonic() if now is None else now
        return self.failed_at is not None and now - self.failed_at < self.retry_after

    async def key(self, kid: str) -> dict[str, Any] | None:
        """The key with this id; None when the endpoint does not list it.

        Raises KeysUnavailable when no keys can be had within `wait` seconds.
        """
        found = self._keys.get(kid)
        now = time.monotonic()
        if found is not None:
            if self.stale(now) and not self.failing(now):
                self.refresh()  # in the background: this request goes on with the cached key
            return found
        if self._keys and self.fetched_at is not None:
            if now - self.fetched_at < UNKNOWN_KID_REFRESH or self.failing(now):
                return None  # forged key ids do not make us fetch again
        elif self.failing(now):
            raise KeysUnavailable(f"signing keys unavailable: {self.error}")
        task = self.refresh()
        try:
            await asyncio.wait_for(asyncio.shield(task), self.wait)
        except TimeoutError:
            raise KeysUnavailable("signing keys not fetched in time") from None
        found = self._keys.get(kid)
        if found is None and not self._keys:
            raise KeysUnavailable(f"signing keys unavailable: {self.error}")
        return found

    # Fetching -----------------------------------------------------------------------------

    def refresh(self) -> asyncio.Task[None]:
        """Start a fetch unless one is in flight; the task of the fetch."""
        task = self._task
        if task is not None and not task.done():
            try:
                if task.get_loop() is asyncio.get_running_loop():
                    return task
            except RuntimeError:
                pass
        self._task = asyncio.get_running_loop().create_task(
            self._fetch(), name=f"signing-keys {self.url}"
        )
        return self._task

    async def _fetch(self) -> None:
        self.fetches += 1
        timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        try:
            async with httpx.AsyncClient(timeout=timeout, transport=self._transport) as client:
                keys = await asyncio.wait_for(self._download(client), FETCH_DEADLINE)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            first = self.failed_at is None or not self.failing()
            self.failed_at = time.monotonic()
            self.error = type(exc).__name__
            if first:
                log.warning(
                    "cannot fetch Bot Framework signing keys from %s (%s); %d cached keys in use",
                    self.url,
                    self.error,
                    len(self._keys),
                )
            return
        self._keys = keys
        self.fetched_at = time.monotonic()
        self.failed_at = None
        self.error = ""
        log.info("Bot Framework signing keys loaded from %s (%d keys)", self.url, len(keys))

    async def _download(self, client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
        metadata = await client.get(self.url)
        metadata.raise_for_status()
        jwks_uri = metadata.json().get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise ValueError("OpenID metadata without jwks_uri")
        response = await client.get(jwks_uri)
        response.raise_for_status()
        if len(response.content) > MAX_KEYS_BYTES:
            raise ValueError("key set too large")
        listed = response.json().get("keys")
        if not isinstance(listed, list):
            raise ValueError("key set without keys")
        keys = {
            str(k["kid"]): k
            for k in listed
            if isinstance(k, dict) and isinstance(k.get("kid"), str) and k.get("kty") == "RSA"
        }
        if not keys:
            raise ValueError("key set without RSA keys")
        return keys

    async def aclose(self) -> None:
        """Cancel a fetch in flight."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, RuntimeError):
                pass


class KeyRing:
    """SigningKeys by metadata URL, created on first use with the ring's settings."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._by_url: dict[str, SigningKeys] = {}

    def keys_for(self, url: str) -> SigningKeys:
        """The key store of this metadata URL."""
        store = self._by_url.get(url)
        if store is None:
            store = self._by_url[url] = SigningKeys(url, **self._options)
        return store

    def stores(self) -> list[SigningKeys]:
        """Every store made so far."""
        return list(self._by_url.values())

    async def aclose(self) -> None:
        """Cancel every fetch in flight."""
        for store in self.stores():
            await store.aclose()
