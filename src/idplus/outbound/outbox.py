"""The outbox worker: one asyncio task per worker process sends the durable outbox's deliveries.

Deliveries are rows (`store.deliveries`), enqueued in the unit of work that causes them, so a
restart loses none. Any instance may send any of them: a claim is a lease (FOR UPDATE SKIP
LOCKED on PostgreSQL), so one instance sends a delivery at a time, and the claim of an
instance that died runs out and another one retries. Each attempt ends in one of three steps:
delivered (2xx), retried later with exponential backoff (no answer, 5xx, 408, 429), or failed
(any other answer, or the last attempt). A delivery may arrive twice only when an instance
dies after the receiver answered and before the outcome was stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from idplus.clock import Clock
from idplus.config import Settings
from idplus.logs import get_logger
from idplus.metrics import DeliveryResult, IdentityMetrics
from idplus.models import Delivery
from idplus.outbound import backchannel_logout, ciba_ping
from idplus.store.base import Store, StoreUnavailable

log = get_logger("idplus.outbox")

# Deliveries claimed per store transaction; a full batch is followed at once by the next one.
BATCH = 20
# However many attempts an operator allows, an RP that is back is tried again within the hour.
MAX_BACKOFF = timedelta(hours=1)

Send = Callable[[httpx.AsyncClient, Delivery, Settings], Awaitable[httpx.Response]]
SENDERS: Mapping[str, Send] = {
    backchannel_logout.KIND: backchannel_logout.post_logout_token,
    ciba_ping.KIND: ciba_ping.post_ping,
}

# Answers that say "later" rather than "never".
_TRANSIENT_STATUSES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class Delivered:
    pass


@dataclass(frozen=True, slots=True)
class Retry:
    at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class Failed:
    error: str


Step = Delivered | Retry | Failed
# What an attempt counts as in /metrics (idplus_backchannel_deliveries_total{result}).
_RESULTS: Mapping[type[Step], DeliveryResult] = {
    Delivered: DeliveryResult.DELIVERED,
    Retry: DeliveryResult.RETRIED,
    Failed: DeliveryResult.ABANDONED,
}


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: the first backoff, doubled each time,
    up to MAX_BACKOFF."""
    seconds = settings.delivery_backoff_seconds * 2 ** min(attempts - 1, 40)
    return timedelta(seconds=min(seconds, MAX_BACKOFF.total_seconds()))


def longest_delivery_time(settings: Settings) -> timedelta:
    """From enqueueing to the end of the last attempt while an instance runs: every wait,
    every attempt's timeout and a poll interval before each attempt."""
    attempts = settings.delivery_attempts
    waits = sum((backoff(settings, n) for n in range(1, attempts)), timedelta())
    per_attempt = settings.delivery_timeout_seconds + settings.outbox_poll_seconds
    return waits + timedelta(seconds=attempts * per_attempt)


def next_step(
    delivery: Delivery, status: int | None, error: str, now: datetime, settings: Settings
) -> Step:
    """What an attempt's answer means; `status` is None when none came (network, timeout)."""
    if status is not None and 200 <= status < 300:
        return Delivered()
    attempts = delivery.attempts + 1
    transient = status is None or status >= 500 or status in _TRANSIENT_STATUSES
    if not transient or attempts >= settings.delivery_attempts:
        return Failed(error)
    return Retry(now + backoff(settings, attempts), error)


class OutboxSignal:
    """Wakes this process's outbox worker, so a new delivery goes at once rather than at the
    next poll. Safe from any thread; while no worker runs (CLI, core tests) it wakes nobody."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def notify(self) -> None:
        loop = self._loop
        if loop is None:
            return
        with suppress(RuntimeError):  # the loop closed after a shutdown
            loop.call_soon_threadsafe(self._event.set)

    def attach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop

    async def wait(self, timeout: float) -> None:
        """Until notified (also before this call, since the last wait) or `timeout` seconds."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: Settings,
        http: httpx.AsyncClient,
        signal: OutboxSignal,
        metrics: IdentityMetrics,
    ) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._http = http
        self._signal = signal
        self._metrics = metrics
        self._stopping = False

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The worker's task for the life of the block (the application's lifespan)."""
        self._stopping = False
        task = asyncio.create_task(self._run(), name="outbox-worker")
        try:
            yield
        finally:
            # Stop between batches: a cancelled claim or record would go on in its thread
            # and check a connection out of a store that is being disposed of.
            self._stopping = True
            self._signal.notify()
            try:
                await asyncio.wait_for(
                    asyncio.shield(task), self._settings.delivery_timeout_seconds + 5
                )
            except TimeoutError:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    async def _run(self) -> None:
        self._signal.attach(asyncio.get_running_loop())
        down = False
        try:
            while not self._stopping:
                try:
                    await self.drain()
                    down = False
                except StoreUnavailable as exc:  # a known state: once per outage, no trace
                    if not down:
                        log.warning("outbox_store_unavailable", detail=str(exc))
                    down = True
                except Exception:  # log it, try again at the next poll
                    log.exception("outbox_error")
                await self._signal.wait(self._settings.outbox_poll_seconds)
        finally:
            self._signal.attach(None)

    async def drain(self) -> int:
        """Attempt every delivery due now; how many were attempted."""
        attempted = 0
        while True:
            batch = await asyncio.to_thread(self._claim)
            await asyncio.gather(*(self._attempt(delivery) for delivery in batch))
            attempted += len(batch)
            if len(batch) < BATCH or self._stopping:
                return attempted

    def _claim(self) -> list[Delivery]:
        now = self._clock.now()
        timeout = timedelta(seconds=self._settings.delivery_timeout_seconds)
        # The claim outlives the attempt by the time it takes to store the outcome.
        margin = timedelta(seconds=self._settings.delivery_lease_margin_seconds)
        with self._store.transaction() as uow:
            return uow.deliveries.claim_due(
                now, lease_until=now + timeout + margin, limit=BATCH, kinds=SENDERS.keys()
            )

    async def _attempt(self, delivery: Delivery) -> None:
        status, error = await self._send(delivery)
        step = next_step(delivery, status, error, self._clock.now(), self._settings)
        try:
            # Shielded: a shutdown arriving now still stores what the receiver answered, so
            # the delivery is not sent again after the restart.
            await asyncio.shield(asyncio.to_thread(self._record, delivery.id, step))
        except StoreUnavailable as exc:  # the lease runs out, and the delivery is retried
            log.warning("outbox_store_unavailable", delivery_id=delivery.id, detail=str(exc))
            return
        except Exception:
            log.exception("outbox_error", delivery_id=delivery.id)
            return
        _log(delivery, step)
        self._metrics.delivery(delivery.kind, _RESULTS[type(step)])

    async def _send(self, delivery: Delivery) -> tuple[int | None, str]:
        send = SENDERS.get(delivery.kind)
        if send is None:  # enqueued by a newer version: it may still be sent by one of those
            return None, f"no sender for {delivery.kind}"
        try:
            async with asyncio.timeout(self._settings.delivery_timeout_seconds):
                response = await send(self._http, delivery, self._settings)
        except Exception as exc:  # network, timeout, a bad payload: one failed attempt each
            return None, type(exc).__name__
        return response.status_code, f"HTTP {response.status_code}"

    def _record(self, delivery_id: str, step: Step) -> None:
        now = self._clock.now()
        with self._store.transaction() as uow:
            match step:
                case Delivered():
                    uow.deliveries.mark_delivered(delivery_id, now)
                case Retry(at, error):
                    uow.deliveries.mark_retry(delivery_id, next_attempt_at=at, error=error)
                case Failed(error):
                    uow.deliveries.mark_failed(delivery_id, now, error)


def _log(delivery: Delivery, step: Step) -> None:
    """Never the payload: it holds the token."""
    fields = {
        "kind": delivery.kind,
        "client_id": delivery.subject,
        "delivery_id": delivery.id,
        "attempt": delivery.attempts + 1,
    }
    match step:
        case Delivered():
            log.info("delivery_sent", **fields)
        case Retry(at, error):
            log.warning("delivery_retry", **fields, error=error, next_attempt_at=at.isoformat())
        case Failed(error):
            log.warning("delivery_failed", **fields, error=error)
