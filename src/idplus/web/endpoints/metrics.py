"""GET /metrics in the Prometheus text format.

Route and status counts tell an outsider what the server is doing, so outside development
(a loopback issuer) they are for the scraper holding IDPLUS_METRICS_TOKEN only; with
IDPLUS_METRICS_PORT they are served on that port alone, and this path is like any unknown one.
"""

from __future__ import annotations

from functools import partial

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from idplus.config import Settings
from idplus.entry import context_of, run_probe
from idplus.metrics_exposition import bearer_matches, multiprocess_directory, scrape


async def metrics(request: Request) -> Response:
    services = context_of(request)
    refusal = _refusal(services.settings, request.headers.get("authorization"))
    if refusal is not None:
        return refusal
    # Summing every worker's files reads the disk: not on the event loop, and not on the
    # request threads either, which may all be busy exactly when the numbers are wanted.
    if multiprocess_directory() is not None:
        body = await run_probe(partial(scrape, services.metrics))
    else:
        body = scrape(services.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _refusal(settings: Settings, authorization: str | None) -> Response | None:
    """A configured token is always required; without one, only a development issuer answers."""
    if settings.metrics_port is not None:
        # Like an unknown path: nothing tells a prober that a metrics endpoint exists.
        raise HTTPException(status_code=404)
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not expected:
        if settings.issuer_is_loopback:
            return None
        raise HTTPException(status_code=404)
    if bearer_matches(authorization, expected):
        return None
    return Response(
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="idplus"', "Cache-Control": "no-store"},
    )
