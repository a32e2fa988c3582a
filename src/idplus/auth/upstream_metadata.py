"""What idplus fetches from an upstream OpenID provider: its discovery document and JWKS.

Both are fetched with one blocking httpx client (the login steps run in worker threads), with
short timeouts, and cached per issuer for `cache_seconds`; the JWKS is refetched at once when
an ID token names a key it does not have (the upstream rotated), at most once per token.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

# Discovery fields the upstream login cannot do without.
REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
# The most an upstream may send, and the longest a whole exchange may take: httpx's timeouts
# bound each read, not a body sent a byte at a time.
METADATA_MAX_BYTES = 256 * 1024
ANSWER_MAX_BYTES = 64 * 1024
TOTAL_SECONDS = 10.0


class UpstreamUnavailable(Exception):
    """The upstream did not answer, or not usably (the reason is for the log)."""


def fetch_json(
    http: httpx.Client, method: str, url: str, *, max_bytes: int, **kwargs: Any
) -> tuple[int, object]:
    """The status and parsed JSON body of a request to an upstream (None when the body is not
    JSON), read at most `max_bytes` and TOTAL_SECONDS in all; UpstreamUnavailable otherwise."""
    deadline = time.monotonic() + TOTAL_SECONDS
    body = bytearray()
    try:
        with http.stream(method, url, **kwargs) as response:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise UpstreamUnavailable(f"{url}: answer over {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise UpstreamUnavailable(f"{url}: answer slower than {TOTAL_SECONDS} s")
            status = response.status_code
    except httpx.HTTPError as error:
        raise UpstreamUnavailable(f"{url}: {type(error).__name__}") from None
    try:
        return status, json.loads(body)
    except (ValueError, RecursionError):
        return status, None


class UpstreamMetadata:
    def __init__(self, http: httpx.Client, cache_seconds: float = 300.0) -> None:
        self.http = http
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._discovery: dict[str, tuple[float, dict[str, Any]]] = {}
        self._jwks: dict[str, tuple[float, dict[str, Any]]] = {}

    def discovery(self, issuer: str) -> dict[str, Any]:
        cached = self._cached(self._discovery, issuer)
        if cached is not None:
            return cached
        document = self._get_json(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
        missing = [name for name in REQUIRED_METADATA if not isinstance(document.get(name), str)]
        if missing:
            raise UpstreamUnavailable(f"discovery lacks {', '.join(missing)}")
        if document["issuer"] != issuer:
            raise UpstreamUnavailable(f"discovery names issuer {document['issuer']!r}")
        self._store(self._discovery, issuer, document)
        return document

    def jwks(self, issuer: str, *, refresh: bool = False) -> dict[str, Any]:
        cached = None if refresh else self._cached(self._jwks, issuer)
        if cached is not None:
            return cached
        key_set = self._get_json(str(self.discovery(issuer)["jwks_uri"]))
        if not isinstance(key_set.get("keys"), list):
            raise UpstreamUnavailable("the JWKS has no keys")
        self._store(self._jwks, issuer, key_set)
        return key_set

    def _get_json(self, url: str) -> dict[str, Any]:
        status, document = fetch_json(self.http, "GET", url, max_bytes=METADATA_MAX_BYTES)
        if status != 200:
            raise UpstreamUnavailable(f"{url}: HTTP {status}")
        if not isinstance(document, dict):
            raise UpstreamUnavailable(f"{url}: not a JSON object")
        return document

    def _cached(
        self, cache: dict[str, tuple[float, dict[str, Any]]], issuer: str
    ) -> dict[str, Any] | None:
        with self._lock:
            entry = cache.get(issuer)
        if entry is None or time.monotonic() - entry[0] > self._cache_seconds:
            return None
        return entry[1]

    def _store(
        self, cache: dict[str, tuple[float, dict[str, Any]]], issuer: str, doc: dict[str, Any]
    ) -> None:
        with self._lock:
            cache[issuer] = (time.monotonic(), doc)
