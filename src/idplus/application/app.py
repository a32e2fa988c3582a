"""The ASGI application factory: `create_app(settings)` builds everything, no module globals.

The application context (protocol/context.py) is built once, in the lifespan, and every
entry point reaches it with `entry.context_of(request)`.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from idplus.application.registry_watch import RegistryWatch
from idplus.application.routes import (
    discovery_endpoints,
    method_not_allowed,
    not_found,
    route_labels,
    starlette_routes,
)
from idplus.auth.client_jwks import ClientJwksCache
from idplus.auth.providers import (
    LOCAL_PROVIDER,
    ProviderInfo,
    ProviderRegistry,
    upstream_provider_info,
)
from idplus.auth.sender import CountingSender, OutboxSender, Sender
from idplus.auth.upstream_metadata import UpstreamMetadata
from idplus.clock import Clock, SystemClock
from idplus.config import Settings
from idplus.crypto.hashing import PasswordHashSlots
from idplus.entry import blocking_threads
from idplus.logs import configure_logging, get_logger
from idplus.manage.clients import ensure_built_in_clients
from idplus.manage.keys import KeyRingCache, ensure_signing_key
from idplus.manage.providers import list_providers
from idplus.manage.server_secrets import load_server_secrets
from idplus.metrics import IdentityMetrics
from idplus.outbound.outbox import OutboxSignal, OutboxWorker
from idplus.protocol.client_directory import ClientDirectory
from idplus.protocol.context import AppContext
from idplus.protocol.oidc.discovery import build_discovery_document
from idplus.protocol.passkeys.relying_party import log_passkey_availability, unavailable_reason
from idplus.protocol.token_endpoint import GRANT_TYPES
from idplus.randomness import Randomness, SystemRandomness
from idplus.store.base import Store
from idplus.store.sql.uow import SqlStore
from idplus.ui.pages import Pages
from idplus.web.body_limit import BodyLimitMiddleware
from idplus.web.middleware import HttpMetrics, RequestContextMiddleware

log = get_logger(__name__)
# Calls to an upstream OpenID provider during a login: a slow upstream is an error page soon.
UPSTREAM_TIMEOUT = httpx.Timeout(5.0, connect=3.0)


class InsecureConfiguration(ValueError):
    """These settings must not serve requests (see Settings.production_secrets_problem)."""


@dataclass(frozen=True, slots=True)
class _Parts:
    """What create_app decides before the lifespan builds the context from it."""

    settings: Settings
    clock: Clock
    random: Randomness
    store: Store
    providers: ProviderRegistry
    sender: Sender
    metrics: CollectorRegistry
    identity_metrics: IdentityMetrics
    discovery: dict[str, Any]


@contextmanager
def _startup_objects_frozen() -> Iterator[None]:
    """What was built before serving lives as long as the process: moved out of the cyclic
    collector's sight, an oldest-generation collection under load no longer walks all of it
    (a pause of ~0.1 s every request in flight waits for). No collection first: it would cost
    as much at every start, for a little startup garbage kept."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    providers: ProviderRegistry | None = None,
    sender: Sender | None = None,
    random: Randomness | None = None,
) -> Starlette:
    problem = settings.production_secrets_problem()
    if problem:
        raise InsecureConfiguration(problem)
    configure_logging(settings.log_level, json=settings.log_json)
    store = SqlStore.from_settings(settings)
    registry = CollectorRegistry()
    identity_metrics = IdentityMetrics(registry)
    parts = _Parts(
        settings=settings,
        clock=clock or SystemClock(),
        random=random or SystemRandomness(),
        store=store,
        providers=providers
        or ProviderRegistry(
            [local_provider(settings)],
            # The stored upstream providers, reread like the clients.
            upstream=lambda: [upstream_provider_info(p) for p in list_providers(store)],
            cache_seconds=settings.client_cache_seconds,
        ),
        # Every SMS is counted by purpose and result, whichever sender sends it.
        sender=CountingSender(sender or OutboxSender(settings.outbox), identity_metrics),
        metrics=registry,
        identity_metrics=identity_metrics,
        discovery=build_discovery_document(
            settings.issuer, discovery_endpoints(), GRANT_TYPES.keys()
        ),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        timeout = settings.delivery_timeout_seconds
        threads = settings.worker_threads or settings.database_pool_size
        with blocking_threads(threads, settings.database_pool_timeout_seconds):
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
                with httpx.Client(timeout=UPSTREAM_TIMEOUT, follow_redirects=False) as blocking:
                    context = await run_in_threadpool(_build_context, parts, http, blocking)
                    app.state.context = context
                    watch = RegistryWatch(
                        store,
                        (context.clients, context.keys, context.providers),
                        settings.registry_poll_seconds,
                    )
                    async with watch.running(), _outbox_worker(context).running():
                        log.info("started", issuer=settings.issuer, database=store.dialect_name)
                        log_passkey_availability(settings)
                        with _startup_objects_frozen():
                            yield
        parts.store.dispose()

    app = Starlette(
        routes=starlette_routes(),
        middleware=[
            # X-Forwarded-For / -Proto set the client address and scheme only when the peer is
            # a trusted proxy; anyone else could claim any address (and dodge address limits).
            Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies),
            Middleware(
                RequestContextMiddleware,
                metrics=HttpMetrics(parts.metrics),
                labels=route_labels(),
                log_every_request=settings.access_log == "all",
            ),
            # Inside the request context, so that refusals carry a request id and are counted.
            Middleware(
                BodyLimitMiddleware,
                max_bytes=settings.max_body_bytes,
                timeout_seconds=settings.body_timeout_seconds,
            ),
        ],
        exception_handlers={404: not_found, 405: method_not_allowed},
        lifespan=lifespan,
    )
    app.state.pages = Pages()
    return app


def local_provider(settings: Settings) -> ProviderInfo:
    """Password + SMS reach level 2; level 3 is a hardware-attested, device-bound passkey's,
    so the local provider offers it only where the operator configured attestation roots."""
    if settings.webauthn_attestation_roots is not None and unavailable_reason(settings) is None:
        return replace(LOCAL_PROVIDER, max_level=3)
    return LOCAL_PROVIDER


def _build_context(parts: _Parts, http: httpx.AsyncClient, blocking: httpx.Client) -> AppContext:
    """Secrets, a signing key and the built-in clients exist before the first request."""
    settings, store, clock = parts.settings, parts.store, parts.clock
    secrets = load_server_secrets(store, settings, clock)
    ensure_signing_key(store, settings, clock)
    ensure_built_in_clients(store, clock, settings.issuer)
    keys = KeyRingCache(store, settings, clock)
    keys.current()
    return AppContext(
        settings=settings,
        clock=clock,
        random=parts.random,
        store=store,
        keys=keys,
        secrets=secrets,
        providers=parts.providers,
        sender=parts.sender,
        clients=ClientDirectory(store, clock, timedelta(seconds=settings.client_cache_seconds)),
        hash_slots=PasswordHashSlots(settings.max_concurrent_hashes),
        http=http,
        outbox_signal=OutboxSignal(),
        metrics=parts.metrics,
        identity_metrics=parts.identity_metrics,
        discovery=parts.discovery,
        upstream=UpstreamMetadata(blocking),
        client_jwks=ClientJwksCache(blocking),
    )


def _outbox_worker(ctx: AppContext) -> OutboxWorker:
    """This worker process's sender of the durable outbox (back-channel logout …)."""
    return OutboxWorker(
        ctx.store, ctx.clock, ctx.settings, ctx.http, ctx.outbox_signal, ctx.identity_metrics
    )


def app_from_environment() -> Starlette:
    """Entry point for `uvicorn --factory` (and so for each worker of `idplus serve`)."""
    return create_app(Settings())
