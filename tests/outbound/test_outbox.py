"""The outbox worker: what each answer means, and how it sends, retries, gives up and leases."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.logs import configure_logging
from idplus.metrics import IdentityMetrics
from idplus.models import Delivery
from idplus.outbound.backchannel_logout import logout_delivery
from idplus.outbound.outbox import (
    MAX_BACKOFF,
    Delivered,
    Failed,
    OutboxSignal,
    OutboxWorker,
    Retry,
    next_step,
)
from idplus.store.base import Store
from tests.outbound.receiver import Receiver, free_port

# The kinds this version sends.
KINDS = ("backchannel_logout",)


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings(delivery_attempts=5, delivery_backoff_seconds=1.0, delivery_timeout_seconds=5)


def _delivery(
    uri: str = "https://rp.example/bcl", attempts: int = 0, delivery_id: str = "d1"
) -> Delivery:
    delivery = logout_delivery(delivery_id, uri, "the-logout-token", "tv", NOW)
    return replace(delivery, attempts=attempts)


# What an answer means.


@pytest.mark.parametrize("status", [200, 202, 204])
def test_a_2xx_answer_is_a_delivery(status: int) -> None:
    assert next_step(_delivery(), status, f"HTTP {status}", NOW, SETTINGS) == Delivered()


@pytest.mark.parametrize(
    ("status", "error"),
    [(None, "ConnectError"), (None, "TimeoutError"), (500, "HTTP 500"), (503, "HTTP 503"),
     (429, "HTTP 429"), (408, "HTTP 408")],
)  # fmt: skip
def test_no_answer_a_server_error_or_try_later_is_retried(status: int | None, error: str) -> None:
    assert next_step(_delivery(), status, error, NOW, SETTINGS) == Retry(
        NOW + timedelta(seconds=1), error
    )


def test_the_backoff_doubles_after_each_failed_attempt() -> None:
    waits = [next_step(_delivery(attempts=n), 503, "HTTP 503", NOW, SETTINGS) for n in range(4)]
    assert waits == [Retry(NOW + timedelta(seconds=s), "HTTP 503") for s in (1, 2, 4, 8)]


def test_the_backoff_stops_growing_at_an_hour() -> None:
    patient = SETTINGS.model_copy(update={"delivery_attempts": 1000})
    step = next_step(_delivery(attempts=500), None, "ConnectError", NOW, patient)
    assert step == Retry(NOW + MAX_BACKOFF, "ConnectError")


@pytest.mark.parametrize("status", [400, 401, 404, 302])
def test_a_refusal_is_final(status: int) -> None:
    """The RP answered and will answer the same again (redirects are not followed)."""
    step = next_step(_delivery(), status, f"HTTP {status}", NOW, SETTINGS)
    assert step == Failed(f"HTTP {status}")


def test_the_last_attempt_gives_up() -> None:
    step = next_step(_delivery(attempts=4), 503, "HTTP 503", NOW, SETTINGS)
    assert step == Failed("HTTP 503")


# The worker over a real store and a real receiver.


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _enqueue(store: Store, delivery: Delivery) -> None:
    with store.transaction() as uow:
        uow.deliveries.enqueue(delivery)


def _find(store: Store, delivery_id: str = "d1") -> Delivery:
    with store.reading() as uow:
        found = uow.deliveries.find(delivery_id)
    assert found is not None
    return found


def _drain(store: Store, clock: FrozenClock, settings: Settings = SETTINGS) -> int:
    async def drain() -> int:
        async with httpx.AsyncClient() as http:
            metrics = IdentityMetrics(CollectorRegistry())
            return await OutboxWorker(store, clock, settings, http, OutboxSignal(), metrics).drain()

    return asyncio.run(drain())


def test_a_due_delivery_is_posted_as_a_logout_token_and_marked_delivered(
    store: Store, clock: FrozenClock, receiver: Receiver
) -> None:
    _enqueue(store, _delivery(receiver.uri))
    assert _drain(store, clock) == 1
    assert receiver.tokens == ["the-logout-token"]
    found = _find(store)
    assert (found.status, found.attempts, found.finished_at) == ("delivered", 1, NOW)
    assert _drain(store, clock) == 0


def test_an_unreachable_receiver_is_tried_again_after_the_backoff(
    store: Store, clock: FrozenClock
) -> None:
    _enqueue(store, _delivery(f"http://127.0.0.1:{free_port()}/bcl"))
    assert _drain(store, clock) == 1
    found = _find(store)
    assert (found.status, found.attempts, found.last_error) == ("pending", 1, "ConnectError")
    assert found.next_attempt_at == NOW + timedelta(seconds=1)
    assert _drain(store, clock) == 0
    clock.advance(timedelta(seconds=1))
    assert _drain(store, clock) == 1
    assert _find(store).attempts == 2


def test_a_receiver_that_never_answers_costs_one_timeout(store: Store, clock: FrozenClock) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        _enqueue(store, _delivery(f"http://127.0.0.1:{silent.getsockname()[1]}/bcl"))
        quick = SETTINGS.model_copy(update={"delivery_timeout_seconds": 0.2})
        assert _drain(store, clock, quick) == 1
    found = _find(store)
    assert (found.status, found.attempts, found.last_error) == ("pending", 1, "TimeoutError")


def test_a_refused_delivery_fails_at_once(store: Store, clock: FrozenClock) -> None:
    refusing = Receiver(status=400)
    try:
        _enqueue(store, _delivery(refusing.uri))
        assert _drain(store, clock) == 1
    finally:
        refusing.close()
    found = _find(store)
    assert (found.status, found.attempts, found.last_error) == ("failed", 1, "HTTP 400")
    clock.advance(timedelta(hours=2))
    assert _drain(store, clock) == 0


def test_a_delivery_another_instance_claimed_waits_for_its_lease_to_end(
    store: Store, clock: FrozenClock, receiver: Receiver
) -> None:
    _enqueue(store, _delivery(receiver.uri))
    lease_end = NOW + timedelta(seconds=35)
    with store.transaction() as uow:  # another instance, which then dies
        uow.deliveries.claim_due(NOW, lease_until=lease_end, limit=10, kinds=KINDS)
    assert _drain(store, clock) == 0
    assert receiver.tokens == []
    clock.advance(lease_end - NOW)
    assert _drain(store, clock) == 1
    assert receiver.tokens == ["the-logout-token"]


def test_the_logs_name_the_client_and_never_the_token(
    store: Store, clock: FrozenClock, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json=True)
    failing = Receiver(status=503)
    try:
        _enqueue(store, _delivery(receiver.uri))
        _enqueue(store, _delivery(failing.uri, delivery_id="d2"))
        _enqueue(store, _delivery(failing.uri, attempts=4, delivery_id="d3"))
        capsys.readouterr()
        _drain(store, clock)
    finally:
        failing.close()
    out = capsys.readouterr().out
    assert "the-logout-token" not in out
    lines = [json.loads(line) for line in out.splitlines()]
    logged = {line["delivery_id"]: line for line in lines if "delivery_id" in line}
    assert {d: (line["event"], line["client_id"]) for d, line in logged.items()} == {
        "d1": ("delivery_sent", "tv"),
        "d2": ("delivery_retry", "tv"),
        "d3": ("delivery_failed", "tv"),
    }


def test_the_running_worker_sends_at_once_when_notified_and_stops_cleanly(
    store: Store, clock: FrozenClock, receiver: Receiver
) -> None:
    """The poll interval is ten minutes here: only the signal can make the second delivery
    go within the bounded wait."""
    lazy = SETTINGS.model_copy(update={"outbox_poll_seconds": 600})
    first = logout_delivery("first", receiver.uri, "token-1", "tv", NOW)
    second = logout_delivery("second", receiver.uri, "token-2", "tv", NOW)

    async def run() -> None:
        signal = OutboxSignal()
        async with httpx.AsyncClient() as http:
            worker = OutboxWorker(
                store, clock, lazy, http, signal, IdentityMetrics(CollectorRegistry())
            )
            await asyncio.to_thread(_enqueue, store, first)
            async with worker.running():
                await _until(lambda: receiver.tokens == ["token-1"])  # the start-up drain
                await asyncio.to_thread(_enqueue, store, second)
                signal.notify()
                await _until(lambda: receiver.tokens == ["token-1", "token-2"])
                # The receiver has answered; the outcome is stored just after.
                await _until(lambda: _find(store, "second").status == "delivered")

    asyncio.run(run())


async def _until(condition: Any, timeout: float = 60.0) -> None:
    """A generous bound that only stops a hang; it asserts no speed."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


class _SlowStore:
    """The store, with a first transaction that waits until let go (a claim in progress)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.started = threading.Event()
        self.let_go = threading.Event()
        self.finished = threading.Event()

    def transaction(self) -> Any:
        if self.started.is_set():
            return self._store.transaction()
        self.started.set()
        self.let_go.wait(30)
        self.finished.set()
        return self._store.transaction()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_stopping_waits_for_the_claim_in_progress(store: Store, clock: FrozenClock) -> None:
    """A cancelled claim went on in its thread, into the store's disposal (a leaked
    connection on PostgreSQL): the worker stops between batches instead."""
    slow = _SlowStore(store)

    async def run() -> None:
        async with httpx.AsyncClient() as http:
            worker = OutboxWorker(
                slow,
                clock,
                SETTINGS,
                http,
                OutboxSignal(),
                IdentityMetrics(CollectorRegistry()),  # type: ignore[arg-type]
            )
            async with worker.running():
                await _until(slow.started.is_set)
                asyncio.get_running_loop().call_later(0.2, slow.let_go.set)
            assert slow.finished.is_set()

    asyncio.run(run())
