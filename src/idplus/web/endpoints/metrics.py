"""GET /metrics in the Prometheus text format."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from idplus.web.services import services_of


async def metrics(request: Request) -> Response:
    body = generate_latest(services_of(request).metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
