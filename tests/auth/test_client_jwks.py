"""A client's jwks_uri is fetched when needed, cached, and never fetched per request."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from idplus.auth.client_jwks import STALE_KEYS_SECONDS, ClientJwksCache, ClientKeysUnavailable
from tests.client_assertions import ClientKey

URI = "https://pay.example/jwks"


class FakeJwksUri:
    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks: dict[str, Any] | None = jwks
        # When set, the URI answers this instead (a 404, a document that is no JWKS …).
        self.answer: httpx.Response | None = None
        self.fetches = 0
        self.now = 1000.0
        # Cleared to hold fetches until it is set again; `entered` tells one has begun.
        self.proceed, self.entered = threading.Event(), threading.Event()
        self.proceed.set()

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        self.entered.set()
        self.proceed.wait(5)
        if self.answer is not None:
            return self.answer
        if self.jwks is None:
            return httpx.Response(503)
        return httpx.Response(200, json=self.jwks)

    def cache(self, fetch_wait: float = 5) -> ClientJwksCache:
        http = httpx.Client(transport=httpx.MockTransport(self.handle))
        return ClientJwksCache(
            http,
            cache_seconds=300,
            min_interval=30,
            retry_seconds=5,
            fetch_wait=fetch_wait,
            monotonic=lambda: self.now,
        )


def _kids(jwks: dict[str, Any]) -> list[str]:
    return [key["kid"] for key in jwks["keys"]]


def test_cached_until_stale() -> None:
    uri = FakeJwksUri(ClientKey.rsa("a").public_jwks())
    cache = uri.cache()
    assert _kids(cache.jwks("pay", URI, "a")) == ["a"]
    assert _kids(cache.jwks("pay", URI, "a")) == ["a"]
    assert uri.fetches == 1
    uri.now += 301
    cache.jwks("pay", URI, "a")
    assert uri.fetches == 2


def test_an_unknown_kid_refetches_at_most_once_per_interval() -> None:
    uri = FakeJwksUri(ClientKey.rsa("a").public_jwks())
    cache = uri.cache()
    cache.jwks("pay", URI, "a")
    uri.jwks = ClientKey.rsa("b").public_jwks()
    for _ in range(5):
        assert _kids(cache.jwks("pay", URI, "made-up")) == ["a"]
    assert uri.fetches == 1
    uri.now += 31
    assert _kids(cache.jwks("pay", URI, "b")) == ["b"]
    for _ in range(5):
        cache.jwks("pay", URI, "made-up")
    assert uri.fetches == 2


def test_a_failing_uri_is_not_retried_per_request() -> None:
    uri = FakeJwksUri(ClientKey.rsa("a").public_jwks())
    uri.jwks = None
    cache = uri.cache()
    for _ in range(3):
        with pytest.raises(ClientKeysUnavailable):
            cache.jwks("pay", URI, "a")
    assert uri.fetches == 1


def test_the_last_good_keys_outlive_an_outage() -> None:
    uri = FakeJwksUri(ClientKey.rsa("a").public_jwks())
    cache = uri.cache()
    cache.jwks("pay", URI, "a")
    uri.jwks, uri.now = None, uri.now + 400
    assert _kids(cache.jwks("pay", URI, "a")) == ["a"]


def test_an_empty_key_set_withdraws_every_key() -> None:
    uri = FakeJwksUri(ClientKey.rsa("a").public_jwks())
    cache = uri.cache()
    cache.jwks("pay", URI, "a")
    uri.jwks, uri.now = {"keys": []}, uri.now + 301
    assert cache.jwks("pay", URI, "a") == {"keys": []}
    assert cache.jwks("pay", URI, None) == {"keys": []}


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503),
        httpx.Response(404),
        httpx.Response(200, json={"keys": "nope"}),
        httpx.Response(200, json={"keys": [dict(ClientKey.rsa().key.as_dict(private=True))]}),
    ],
)
def test_the_last_good_keys_are_kept_through_failures_for_a_bounded_time(
    answer: httpx.Response,
) -> None:
    uri = FakeJwksUri(ClientKey.rsa("a").public_jwks())
    cache = uri.cache()
    fetched_at = uri.now
    cache.jwks("pay", URI, "a")
    uri.answer, uri.now = answer, fetched_at + 400
    assert _kids(cache.jwks("pay", URI, "a")) == ["a"]
    uri.now = fetched_at + STALE_KEYS_SECONDS + 1
    for _ in range(2):  # refetched (and failing) or not, the old keys are refused
        with pytest.raises(ClientKeysUnavailable):
            cache.jwks("pay", URI, "a")
    uri.answer, uri.now = None, uri.now + 5
    assert _kids(cache.jwks("pay", URI, "a")) == ["a"]


def test_requests_during_the_first_fetch_wait_for_it() -> None:
    uri = FakeJwksUri(ClientKey.rsa("a").public_jwks())
    cache = uri.cache()
    uri.proceed.clear()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cache.jwks, "pay", URI, "a")
        assert uri.entered.wait(5)
        second = pool.submit(cache.jwks, "pay", URI, "a")
        time.sleep(0.1)
        assert not second.done()
        uri.proceed.set()
        assert _kids(first.result(5)) == _kids(second.result(5)) == ["a"]
    assert uri.fetches == 1


def test_the_wait_for_a_fetch_under_way_is_bounded() -> None:
    uri = FakeJwksUri(ClientKey.rsa("a").public_jwks())
    cache = uri.cache(fetch_wait=0.1)
    uri.proceed.clear()
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(cache.jwks, "pay", URI, "a")
        assert uri.entered.wait(5)
        with pytest.raises(ClientKeysUnavailable):
            cache.jwks("pay", URI, "a")
        uri.proceed.set()
        assert _kids(first.result(5)) == ["a"]


def test_a_failed_first_fetch_is_retried_within_seconds() -> None:
    uri = FakeJwksUri(ClientKey.rsa("a").public_jwks())
    good, uri.jwks = uri.jwks, None
    cache = uri.cache()
    with pytest.raises(ClientKeysUnavailable):
        cache.jwks("pay", URI, "a")
    uri.jwks, uri.now = good, uri.now + 5
    assert _kids(cache.jwks("pay", URI, "a")) == ["a"]
    assert uri.fetches == 2


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"not json"),
        httpx.Response(200, json={"keys": [dict(ClientKey.rsa().key.as_dict(private=True))]}),
        httpx.Response(200, content=b"{" * 100_000),
        httpx.Response(404),
    ],
)
def test_an_unusable_answer_is_unavailable(answer: httpx.Response) -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda request: answer))
    with pytest.raises(ClientKeysUnavailable):
        ClientJwksCache(http).jwks("pay", URI, None)
