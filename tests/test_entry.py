"""How entry points run blocking work: as many worker threads as the database pool has
connections (or IDPLUS_WORKER_THREADS), a quick 503 (never an unbounded queue) when none
becomes free in time, and the readiness probe unaffected by busy threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.entry import run_blocking

# Far above the wait asked for (0.5 s), far below an unbounded queue.
QUICK_SECONDS = 3.0


@contextmanager
def threads_held(client: TestClient, count: int) -> Iterator[None]:
    """`count` worker threads busy until the block ends (a stalled upstream, a slow lock)."""
    assert client.portal is not None
    release = threading.Event()
    running = threading.Semaphore(0)

    def hold() -> None:
        running.release()
        release.wait()

    holders: list[Future[Any]] = [
        client.portal.start_task_soon(run_blocking, hold) for _ in range(count)
    ]
    try:
        for _ in range(count):
            assert running.acquire(timeout=5)
        yield
    finally:
        release.set()
        for holder in holders:
            holder.result(timeout=5)


def _introspect(client: TestClient) -> Any:
    return client.post("/connect/introspect", data={"token": "t"}, auth=("rp", "secret"))


def test_a_request_no_worker_thread_frees_up_for_is_answered_503_and_ready_stays_ok(
    settings: Settings, clock: FrozenClock
) -> None:
    """Every worker thread held: the next request is refused with 503 + Retry-After after the
    pool timeout, as one waiting that long for a connection is; /readyz still answers on
    threads of its own, and the app serves again as soon as a thread is free."""
    one_thread = settings.model_copy(
        update={"worker_threads": 1, "database_pool_timeout_seconds": 0.5}
    )
    with TestClient(create_app(one_thread, clock=clock), base_url=settings.issuer) as client:
        with threads_held(client, 1):
            started = time.monotonic()
            refused = _introspect(client)
            waited = time.monotonic() - started
            ready = client.get("/readyz")
        served = _introspect(client)

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == "temporarily_unavailable"
    assert 0.4 < waited < QUICK_SECONDS
    assert ready.status_code == 200
    assert served.status_code == 401  # an unknown client: served, and refused as such


@pytest.mark.parametrize(("overrides", "threads"), [({}, 10), ({"database_pool_size": 4}, 4),
                                                    ({"worker_threads": 6}, 6)])  # fmt: skip
def test_blocking_work_gets_as_many_threads_as_the_pool_has_connections(
    settings: Settings, clock: FrozenClock, overrides: dict[str, int], threads: int
) -> None:
    """A thread beyond the pool's connections would only wait for one, and switching among
    forty threads cost a core up to half its requests (make bench)."""
    app = create_app(
        settings.model_copy(update={**overrides, "database_pool_timeout_seconds": 0.3}),
        clock=clock,
    )
    with TestClient(app, base_url=settings.issuer) as client:
        with threads_held(client, threads - 1):
            one_left = _introspect(client)
        with threads_held(client, threads):
            none_left = _introspect(client)

    assert one_left.status_code == 401
    assert none_left.status_code == 503


def test_a_cancelled_request_keeps_its_thread_counted_until_the_thread_ends(
    settings: Settings, clock: FrozenClock
) -> None:
    """A request cancelled (a shutdown's deadline) while its thread still runs: the thread is
    not free, so the next request waits for it (and is refused after the wait) rather than a
    thread beyond the limit running or the queue growing unseen."""
    one_thread = settings.model_copy(
        update={"worker_threads": 1, "database_pool_timeout_seconds": 0.3}
    )
    release = threading.Event()
    running = threading.Event()

    def hold() -> None:
        running.set()
        release.wait()

    with TestClient(create_app(one_thread, clock=clock), base_url=settings.issuer) as client:
        assert client.portal is not None
        holder = client.portal.start_task_soon(run_blocking, hold)
        assert running.wait(timeout=5)
        holder.cancel()
        # The held thread ends by itself later: were its slot free, the next request would
        # queue behind it unseen and be served then, not refused.
        ending = threading.Timer(1.5, release.set)
        ending.start()
        try:
            refused = _introspect(client)
        finally:
            ending.join()
        time.sleep(0.1)  # the thread's end reaches the event loop
        served = _introspect(client)

    assert refused.status_code == 503
    assert served.status_code == 401
