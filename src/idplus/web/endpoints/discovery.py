"""GET /.well-known/openid-configuration and GET the JWKS (OIDC Discovery 1.0 §4, RFC 7517)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idplus.entry import context_of, run_blocking


async def openid_configuration(request: Request) -> JSONResponse:
    services = context_of(request)
    return JSONResponse(services.discovery, headers={"Cache-Control": "public, max-age=300"})


async def jwks(request: Request) -> Response:
    services = context_of(request)
    ring = services.keys.fresh()
    if ring is None:
        ring = await run_blocking(services.keys.current)
    max_age = services.settings.key_cache_seconds
    return Response(
        ring.jwks_json,
        media_type="application/jwk-set+json",
        headers={"Cache-Control": f"public, max-age={max_age}"},
    )
