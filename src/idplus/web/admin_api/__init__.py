"""The admin REST API under `/admin/api/v1` (INTERFACE "Admin API"): operations over the same
`manage/` use-cases as the CLI, and the OpenAPI document generated from them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from idplus.entry import context_of
from idplus.web.admin_api import (
    api_products,
    apps,
    audit,
    clients,
    companies,
    keys,
    sessions,
    subscriptions,
    users,
)
from idplus.web.admin_api.openapi import openapi_document
from idplus.web.admin_api.operations import PREFIX, Operation, route

OPERATIONS: tuple[Operation, ...] = (
    *keys.OPERATIONS,
    *audit.OPERATIONS,
    *api_products.OPERATIONS,
    *clients.OPERATIONS,
    *companies.OPERATIONS,
    *apps.OPERATIONS,
    *subscriptions.OPERATIONS,
    *users.OPERATIONS,
    *sessions.OPERATIONS,
)
OPENAPI_PATH = f"{PREFIX}/openapi.json"


async def openapi(request: Request) -> Response:
    """The document describes the API, never its data: it needs no token."""
    document = openapi_document(context_of(request).settings.issuer, OPERATIONS)
    return JSONResponse(document, headers={"Cache-Control": "no-cache"})


# Built once: the metrics middleware labels requests by these very endpoint functions.
ROUTES: tuple[Route, ...] = (
    Route(OPENAPI_PATH, openapi),
    *(route(operation) for operation in OPERATIONS),
)
