"""What every entry point (web endpoints, pages, the gateway) reads off an HTTP request: the
application context, the peer's address, and the OAuth parameters the request carries; and
how it runs blocking work (the database, upstream calls) off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from starlette.requests import Request

from idplus.errors import InvalidRequest
from idplus.protocol.context import AppContext
from idplus.store.base import StoreUnavailable

FORM_TYPE = "application/x-www-form-urlencoded"
T = TypeVar("T")
DEFAULT_THREADS = 10
DEFAULT_WAIT_SECONDS = 5.0


class BlockingThreads:
    """The worker threads of one event loop, and how long a request waits for one.

    A thread pool of its own rather than anyio's to_thread: the hand-off is a measurable part
    of every request that reads the database (cancel scopes, task lookups), and a semaphore
    with a timeout is what bounds the wait."""

    def __init__(self, threads: int, wait_seconds: float) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="idplus")
        self.slots = asyncio.Semaphore(threads)
        self.wait_seconds = wait_seconds

    async def run(self, func: Callable[[], T]) -> T:
        if self.slots.locked():
            try:
                async with asyncio.timeout(self.wait_seconds):
                    await self.slots.acquire()
            except TimeoutError:
                raise StoreUnavailable("no worker thread became free in time") from None
        else:
            await self.slots.acquire()  # free: taken at once, no suspension
        # The request's context (its id in every log line) goes with the call.
        running = self.executor.submit(contextvars.copy_context().run, func)
        try:
            return await asyncio.wrap_future(running)
        finally:
            if running.done():
                self.slots.release()
            else:
                # The request was cancelled while its thread still runs: the slot stays taken
                # until the thread is done, so no more threads run than there are slots.
                loop = asyncio.get_running_loop()
                running.add_done_callback(lambda _: _call_soon(loop, self.slots.release))

    def close(self) -> None:
        self.executor.shutdown(wait=False)


_THREADS: RunVar[BlockingThreads] = RunVar("idplus_blocking_threads")
_PROBE_THREADS: RunVar[CapacityLimiter] = RunVar("idplus_probe_threads")


@contextmanager
def blocking_threads(threads: int, wait_seconds: float) -> Iterator[BlockingThreads]:
    """On the serving event loop (the lifespan): how many threads blocking work may use at
    once, and how long a request waits for one before it is answered 503."""
    pool = BlockingThreads(threads, wait_seconds)
    token = _THREADS.set(pool)
    try:
        yield pool
    finally:
        _THREADS.reset(token)
        pool.close()


async def run_blocking(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`func(*args, **kwargs)` on a worker thread. When every thread stays busy (a saturated
    database, stalled upstreams) for longer than the wait, the request is answered 503 with
    Retry-After (StoreUnavailable), as one that waits that long for a connection is: a quick
    refusal a client or balancer retries, never a queue that grows without bound."""
    try:
        pool = _THREADS.get()
    except LookupError:  # an app served without its lifespan (tests of a single endpoint)
        pool = BlockingThreads(DEFAULT_THREADS, DEFAULT_WAIT_SECONDS)
        _THREADS.set(pool)
    return await pool.run(partial(func, *args, **kwargs))


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed: nothing is waiting
        loop.call_soon_threadsafe(callback)


async def run_probe(func: Callable[[], T]) -> T:
    """A readiness probe's or a metrics scrape's blocking call, on threads of its own: requests
    holding every worker thread are load, not an outage; they must not take the instance out
    of a balancer, nor hide the numbers that show the load."""
    try:
        limiter = _PROBE_THREADS.get()
    except LookupError:
        limiter = CapacityLimiter(2)
        _PROBE_THREADS.set(limiter)
    return await to_thread.run_sync(func, limiter=limiter)


def context_of(request: Request) -> AppContext:
    """The one application context, set by the application's lifespan."""
    context: AppContext = request.app.state.context
    return context


def client_address(request: Request) -> str | None:
    """The peer's address; uvicorn has already replaced it with X-Forwarded-For's when the
    peer is one of IDPLUS_TRUSTED_PROXIES, and only then."""
    return request.client.host if request.client else None


async def read_parameters(request: Request) -> list[tuple[str, str]]:
    """Query parameters for GET; the url-encoded form body for POST (RFC 6749 §3.1).

    The body's size is bounded before it gets here (web.body_limit).
    """
    if request.method == "GET":
        return list(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise InvalidRequest(f"the body must be {FORM_TYPE}")
    body = await request.body()
    try:
        # parse_qsl is several times cheaper than a general form parser on the hot paths.
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the body is not valid url-encoded UTF-8") from None
