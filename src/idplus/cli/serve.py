"""`idplus serve`: the HTTP server."""

from __future__ import annotations

import signal
from types import FrameType

import click

from idplus.cli.context import Context, pass_context
from idplus.cli.help import Command, example
from idplus.errors import ValidationError
from idplus.logs import configure_logging, get_logger
from idplus.manage import keys
from idplus.metrics_exposition import MetricsPort, multiprocess_directory, shared_across_workers

log = get_logger("idplus.cli")


@click.command(
    cls=Command,
    epilog=example(
        "idplus serve --host 0.0.0.0 --port 8000 --workers 4",
        "IDPLUS_ISSUER=http://localhost:8300 idplus serve --port 8300",
    ),
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: all)."
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="TCP port to listen on; IDPLUS_ISSUER should name the same port.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (each serves every endpoint; state lives in the database).",
)
@pass_context
def serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """Serve the OpenID provider over HTTP (uvicorn) until stopped.

    Settings come from IDPLUS_* environment variables (IDPLUS_ISSUER, IDPLUS_DATABASE_URL, …);
    run `idplus db upgrade` first. Creates the signing key on the first start. Prints JSON log
    lines on stdout (IDPLUS_LOG_JSON=false: console lines) rather than one document. Refuses to
    start an https issuer whose secrets would live in the database. With several workers
    /metrics sums them all; with IDPLUS_METRICS_PORT it is served on that port (on
    IDPLUS_METRICS_HOST, loopback unless set) instead of the public one.
    """
    from idplus.manage.server_secrets import load_server_secrets

    problem = ctx.settings.production_secrets_problem()
    if problem:
        raise ValidationError(problem)
    metrics_port = ctx.settings.metrics_port
    if metrics_port == port:
        raise ValidationError(f"IDPLUS_METRICS_PORT must differ from --port ({port})")
    configure_logging(ctx.settings.log_level, json=ctx.settings.log_json)
    unreachable = ctx.settings.served_port_problem(port)
    if unreachable:
        log.warning("issuer_port_differs_from_served_port", problem=unreachable)
    # Before any worker starts, so that workers never race to create them.
    load_server_secrets(ctx.store, ctx.settings, ctx.clock)
    keys.ensure_signing_key(ctx.store, ctx.settings, ctx.clock)
    ctx.store.dispose()
    if workers == 1 and metrics_port is None and multiprocess_directory() is None:
        _run_uvicorn(host, port, workers)
        return
    # Several workers, or a scraper on a port of its own: every worker's counters are summed.
    with shared_across_workers():
        if metrics_port is None:
            _run_uvicorn(host, port, workers)
            return
        with _metrics_port(ctx, ctx.settings.metrics_host, metrics_port) as metrics:
            log.info("metrics_port_opened", host=ctx.settings.metrics_host, port=metrics.port)
            _run_uvicorn(host, port, workers)


def _metrics_port(ctx: Context, host: str, port: int) -> MetricsPort:
    token = ctx.settings.metrics_token
    try:
        return MetricsPort(host, port, token.get_secret_value() if token else None)
    except OSError as error:
        raise ValidationError(f"cannot serve metrics on {host}:{port}: {error}") from None


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _run_uvicorn(host: str, port: int, workers: int) -> None:
    import uvicorn

    # A single-process uvicorn shuts down gracefully on SIGTERM, then raises the signal again
    # under the handler it found, so with the default one the process would end "killed by
    # SIGTERM" (143) after a clean stop, unlike a supervisor of several workers (0). Exit 0.
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        uvicorn.run(
            "idplus.application.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
            server_header=False,
            # The application believes forwarded headers itself (IDPLUS_TRUSTED_PROXIES), so it
            # does under any ASGI server; uvicorn's own handling would trust loopback regardless.
            proxy_headers=False,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
