"""The ASGI application factory: `create_app(settings)` builds everything, no module globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from idplus.auth.providers import LOCAL_PROVIDER, ProviderRegistry
from idplus.auth.sender import OutboxSender, Sender
from idplus.clock import Clock, SystemClock
from idplus.config import Settings
from idplus.crypto.hashing import PasswordHashSlots
from idplus.logs import configure_logging, get_logger
from idplus.manage.clients import ensure_account_client
from idplus.manage.keys import KeyRingCache, ensure_signing_key
from idplus.manage.server_secrets import load_server_secrets
from idplus.protocol.client_directory import ClientDirectory
from idplus.protocol.context import ServerContext
from idplus.protocol.oidc.discovery import build_discovery_document
from idplus.protocol.token_endpoint import GRANT_TYPES
from idplus.store.sql.engine import Database
from idplus.ui.pages import Pages
from idplus.web.body_limit import BodyLimitMiddleware
from idplus.web.middleware import HttpMetrics, RequestContextMiddleware
from idplus.web.routes import discovery_endpoints, route_labels, starlette_routes
from idplus.web.services import Services

log = get_logger(__name__)


class InsecureConfiguration(ValueError):
    """These settings must not serve requests (see Settings.production_secrets_problem)."""


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    providers: ProviderRegistry | None = None,
    sender: Sender | None = None,
) -> Starlette:
    problem = settings.production_secrets_problem()
    if problem:
        raise InsecureConfiguration(problem)
    configure_logging(settings.log_level, json=settings.log_json)
    clock = clock or SystemClock()
    db = Database(settings.database_url)
    registry = CollectorRegistry()
    services = Services(
        settings=settings,
        clock=clock,
        db=db,
        keys=KeyRingCache(db, settings, clock),
        metrics=registry,
        discovery=build_discovery_document(
            settings.issuer, discovery_endpoints(), GRANT_TYPES.keys()
        ),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.server = await run_in_threadpool(
            _prepare,
            services,
            providers or ProviderRegistry([LOCAL_PROVIDER]),
            sender or OutboxSender(settings.outbox),
        )
        log.info("started", issuer=settings.issuer, database=db.dialect_name)
        yield
        db.dispose()

    app = Starlette(
        routes=starlette_routes(),
        middleware=[
            Middleware(
                RequestContextMiddleware,
                metrics=HttpMetrics(registry),
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
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.pages = Pages()
    return app


def _prepare(services: Services, providers: ProviderRegistry, sender: Sender) -> ServerContext:
    """Secrets and a signing key exist before the first request is answered."""
    secrets = load_server_secrets(services.db, services.settings, services.clock)
    ensure_signing_key(services.db, services.settings, services.clock)
    ensure_account_client(services.db, services.clock)
    services.keys.current()
    return ServerContext(
        settings=services.settings,
        clock=services.clock,
        db=services.db,
        keys=services.keys,
        secrets=secrets,
        providers=providers,
        sender=sender,
        clients=ClientDirectory(
            services.db,
            services.clock,
            timedelta(seconds=services.settings.client_cache_seconds),
        ),
        hash_slots=PasswordHashSlots(services.settings.max_concurrent_hashes),
    )


def app_from_environment() -> Starlette:
    """Entry point for `uvicorn --factory` (and so for each worker of `idplus serve`)."""
    return create_app(Settings())
