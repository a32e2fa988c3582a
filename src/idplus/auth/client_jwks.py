"""Clients' JWKS fetched from their registered `jwks_uri` (private_key_jwt, RFC 7523).

Fetched with the blocking httpx client the upstream calls use (its timeouts, the same size and
time caps), kept in this process for `cache_seconds`, and fetched again early when an assertion
names a key the cached set lacks (the client rotated). Whatever asks, one client's URI is
fetched at most once per `min_interval` seconds — failures included — so a stream of assertions
naming made-up keys, or a client whose URI is down, cannot make idplus fetch per request. Until
the client has usable keys a failed fetch is retried sooner (`retry_seconds`), so one failure
does not lock the client out for long.

A client revokes a leaked key by publishing a set without it; publishing `{"keys": []}` means
"no keys now" and refuses every assertion. When the URI stops answering usably the last good
set is kept, but only up to STALE_KEYS_SECONDS after it was fetched: a client cannot revoke by
taking its URI down, yet a key it removed must not stay trusted forever.

One fetch per client runs at a time (the cache is used from worker threads); requests that
need its result (no keys yet, or an unknown kid) wait for it, up to the fetch's own time bound.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from idplus.auth.upstream_metadata import TOTAL_SECONDS, UpstreamUnavailable, fetch_json
from idplus.crypto.client_keys import InvalidClientKeys, has_kid, parse_client_jwks

JWKS_MAX_BYTES = 64 * 1024
# How long after its last successful fetch a key set is still used while the URI fails.
STALE_KEYS_SECONDS = 3600.0


class ClientKeysUnavailable(Exception):
    """No usable JWKS for the client now (the reason is for the log)."""


@dataclass(slots=True)
class _Entry:
    # When the last fetch was attempted (monotonic), whether it succeeded or not.
    attempted_at: float = -math.inf
    # The last JWKS fetched successfully, and when; None until one was.
    jwks: dict[str, Any] | None = None
    fetched_at: float = 0.0
    # Set while a fetch runs; it is set() when the fetch ends, whatever the outcome.
    fetching: threading.Event | None = None


class ClientJwksCache:
    def __init__(
        self,
        http: httpx.Client,
        *,
        cache_seconds: float = 300.0,
        min_interval: float = 30.0,
        retry_seconds: float = 5.0,
        fetch_wait: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self._cache_seconds = cache_seconds
        self._min_interval = min_interval
        self._retry_seconds = retry_seconds
        self._max_age = max(cache_seconds, STALE_KEYS_SECONDS)
        # The longest a fetch can take (connecting, then the whole answer): waiting longer
        # would only mean the fetch itself hangs, and then the waiting request is refused.
        self._fetch_wait = fetch_wait if fetch_wait is not None else _fetch_bound(http)
        # The clock the intervals are measured on (tests move it instead of sleeping).
        self.monotonic = monotonic
        self._lock = threading.Lock()
        # By (client_id, jwks_uri): a client re-registered with another URI starts afresh.
        self._entries: dict[tuple[str, str], _Entry] = {}

    def jwks(self, client_id: str, jwks_uri: str, kid: str | None) -> dict[str, Any]:
        """The client's key set, fetched when none is cached, the cached one is stale, or it
        lacks `kid` — each only when the last attempt is old enough (see the module)."""
        with self._lock:
            entry = self._entries.setdefault((client_id, jwks_uri), _Entry())
            in_flight = entry.fetching
            if in_flight is None and self._should_fetch(entry, kid, self.monotonic()):
                # Claimed under the lock: concurrent requests wait for it or use the cache.
                entry.attempted_at = self.monotonic()
                entry.fetching = claimed = threading.Event()
            else:
                claimed = None
                # Only a request the cached set cannot serve waits for the fetch under way.
                in_flight = in_flight if self._lacks(entry, kid) else None
        if claimed is not None:
            return self._fetch_into(entry, jwks_uri, claimed)
        if in_flight is not None:
            in_flight.wait(self._fetch_wait)
        with self._lock:
            return self._usable(entry)

    def _should_fetch(self, entry: _Entry, kid: str | None, now: float) -> bool:
        has_keys = self._has_usable_keys(entry, now)
        interval = self._min_interval if has_keys else self._retry_seconds
        if now - entry.attempted_at < interval:
            return False
        stale = now - entry.fetched_at > self._cache_seconds
        return not has_keys or stale or self._lacks(entry, kid)

    @staticmethod
    def _lacks(entry: _Entry, kid: str | None) -> bool:
        """The cached set cannot check this assertion (no set, or not the key it names)."""
        return entry.jwks is None or (kid is not None and not has_kid(entry.jwks, kid))

    def _has_usable_keys(self, entry: _Entry, now: float) -> bool:
        return entry.jwks is not None and now - entry.fetched_at <= self._max_age

    def _usable(self, entry: _Entry) -> dict[str, Any]:
        if entry.jwks is None:
            raise ClientKeysUnavailable("the jwks_uri failed recently; not fetched again yet")
        if not self._has_usable_keys(entry, self.monotonic()):
            raise ClientKeysUnavailable(
                f"the jwks_uri fails and its last keys are over {self._max_age:.0f} s old"
            )
        return entry.jwks

    def _fetch_into(self, entry: _Entry, jwks_uri: str, done: threading.Event) -> dict[str, Any]:
        try:
            fetched = self._fetch(jwks_uri)
        except ClientKeysUnavailable:
            with self._lock:
                if not self._has_usable_keys(entry, self.monotonic()):
                    raise
                return self._usable(entry)  # the last good set, for a bounded time
        else:
            with self._lock:
                entry.jwks, entry.fetched_at = fetched, self.monotonic()
            return fetched
        finally:
            # Whatever happened (even an unexpected error), the next request may fetch again
            # and the waiting ones read the outcome.
            with self._lock:
                entry.fetching = None
            done.set()

    def _fetch(self, jwks_uri: str) -> dict[str, Any]:
        try:
            status, document = fetch_json(self.http, "GET", jwks_uri, max_bytes=JWKS_MAX_BYTES)
        except UpstreamUnavailable as error:
            raise ClientKeysUnavailable(str(error)) from None
        if status != 200:
            raise ClientKeysUnavailable(f"{jwks_uri}: HTTP {status}")
        if isinstance(document, Mapping) and document.get("keys") == []:
            return {"keys": []}  # the client withdrew every key: refuse its assertions
        try:
            return parse_client_jwks(document)
        except InvalidClientKeys as error:
            raise ClientKeysUnavailable(f"{jwks_uri}: {error}") from None


def _fetch_bound(http: httpx.Client) -> float:
    timeout = http.timeout
    parts = (timeout.pool, timeout.connect, timeout.read)
    return TOTAL_SECONDS + sum(part for part in parts if part is not None)
