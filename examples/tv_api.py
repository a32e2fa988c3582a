"""An example API protected by idplus: GET /channels needs the `api:tv` scope.

Run it beside idplus (issuer and the API's own credentials for introspection):

    IDPLUS_ISSUER=http://127.0.0.1:8000 TV_API_CLIENT_ID=tv-api TV_API_CLIENT_SECRET=… \\
        .venv/bin/uvicorn --factory examples.tv_api:create_api --port 9000

Both kinds of idplus token work: JWT access tokens from /connect/token and opaque ones
from /oauth/v2/token.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from idplus.resource import RequireToken, TokenValidator


async def channels(request: Request) -> JSONResponse:
    token = request.scope["idplus.token"]
    return JSONResponse({"client_id": token.get("client_id"), "channels": ["NRK1", "TV 2"]})


def create_api(validator: TokenValidator | None = None) -> RequireToken:
    validator = validator or TokenValidator(
        os.environ.get("IDPLUS_ISSUER", "http://127.0.0.1:8000"),
        client_id=os.environ.get("TV_API_CLIENT_ID"),
        client_secret=os.environ.get("TV_API_CLIENT_SECRET"),
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await validator.aclose()

    api = Starlette(routes=[Route("/channels", channels)], lifespan=lifespan)
    return RequireToken(api, validator=validator, scope="api:tv")
