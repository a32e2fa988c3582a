"""GET /metrics in the Prometheus text format.

Route and status counts tell an outsider what the server is doing, so outside development
(a loopback issuer) they are for the scraper holding IDPLUS_METRICS_TOKEN only.
"""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from idplus.config import Settings
from idplus.entry import context_of


async def metrics(request: Request) -> Response:
    services = context_of(request)
    refusal = _refusal(services.settings, request.headers.get("authorization"))
    if refusal is not None:
        return refusal
    return Response(generate_latest(services.metrics), media_type=CONTENT_TYPE_LATEST)


def _refusal(settings: Settings, authorization: str | None) -> Response | None:
    """A configured token is always required; without one, only a development issuer answers."""
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not expected:
        # Like an unknown path: nothing tells a prober that a metrics endpoint exists.
        if settings.issuer_is_loopback:
            return None
        raise HTTPException(status_code=404)
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        return None
    return Response(
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="idplus"', "Cache-Control": "no-store"},
    )
