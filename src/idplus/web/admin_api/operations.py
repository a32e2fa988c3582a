"""The admin API's operations: one declaration gives a route, its checks and its OpenAPI entry.

An operation is a plain function over typed input — the caller, the path parameters, a pydantic
query and body model — returning a typed result. This module does the HTTP around it: the
caller's token (`protocol.admin_access`), parsing and validating the query and the JSON body,
the `If-Match` precondition, running the use-case off the event loop, and rendering results
and errors as JSON `{"error", "error_description"}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from idplus.entry import context_of, run_blocking
from idplus.errors import (
    Conflict,
    Forbidden,
    IdplusError,
    NotFoundError,
    OAuthError,
    PreconditionFailed,
    RateLimited,
    Unavailable,
)
from idplus.errors import ValidationError as UseCaseRefused
from idplus.logs import get_logger
from idplus.models import Caller
from idplus.policies import ADMIN_SCOPE
from idplus.protocol.admin_access import admin_caller
from idplus.protocol.bearer import InsufficientScope, InvalidToken, read_access_token
from idplus.protocol.context import AppContext
from idplus.protocol.dpop.presentation import in_the_scheme_used
from idplus.protocol.dpop.request import DpopEvidence
from idplus.web.adapters import NO_STORE, oauth_error_response
from idplus.web.signing import current_key_ring

PREFIX = "/admin/api/v1"
# Every list's `limit`: its default and most.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# A JSON body of the admin API is small: a client's settings, a product's name.
MAX_BODY_BYTES = 64 * 1024

log = get_logger("idplus.admin_api")


class PageQuery(BaseModel):
    """A list's query: where to go on from, and how many. Lists add their filters; any other
    parameter is refused (a typo'd filter must not silently widen what is listed)."""

    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(
        default=None, max_length=400, description="The next_cursor of the page before."
    )
    limit: int = Field(
        default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="At most this many."
    )


@dataclass(frozen=True, slots=True)
class Call:
    """What an operation is given."""

    ctx: AppContext
    caller: Caller
    path: Mapping[str, str]
    query: Any
    body: Any
    # The entity tag the caller last saw (If-Match), for writes that must not overwrite.
    if_match: str | None


@dataclass(frozen=True, slots=True)
class Result:
    body: BaseModel | None
    status: int = 200
    # The entity tag of the resource as it is now (ETag).
    etag: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    # Under PREFIX, with {name} path parameters.
    path: str
    operation_id: str
    summary: str
    run: Callable[[Call], Result]
    response: type[BaseModel] | None = None
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    # Other answers than `status` worth documenting (e.g. 404, 412), with their meaning.
    errors: Mapping[int, str] = field(default_factory=dict)
    # False: developers (portal tokens) may call it too; the use-case then limits them to
    # their own companies (manage/access.py).
    operators_only: bool = True


def route(operation: Operation) -> Route:
    async def endpoint(request: Request) -> Response:
        return await _answer(operation, request)

    return Route(PREFIX + operation.path, endpoint, methods=[operation.method])


async def _answer(operation: Operation, request: Request) -> Response:
    server = context_of(request)
    try:
        caller = await _caller(server, request, operation)
        path = {k: str(v) for k, v in request.path_params.items()}
        _refuse_nul(path.values(), "a path parameter")
        call = Call(
            ctx=server,
            caller=caller,
            path=path,
            query=_parsed(operation.query, _query(operation, request)),
            body=_parsed(operation.body, await _json_body(request)) if operation.body else None,
            if_match=request.headers.get("if-match"),
        )
        result = await run_blocking(operation.run, call)
    except OAuthError as error:
        return oauth_error_response(error)
    except IdplusError as error:
        return _refusal(error)
    return _rendered(result)


async def _caller(server: AppContext, request: Request, operation: Operation) -> Caller:
    presented = read_access_token(request.headers.get("authorization"), None)
    dpop = DpopEvidence.of(request.headers.getlist("dpop"), request.method, request.url.path)
    ring = await current_key_ring(request)
    try:
        caller = await run_blocking(admin_caller, server, ring, presented, dpop)
        if operation.operators_only and not caller.operator:
            raise InsufficientScope(f"the access token lacks the {ADMIN_SCOPE} scope")
        return caller
    except (InvalidToken, InsufficientScope) as refused:
        raise in_the_scheme_used(presented, refused) from None


class BadRequest(UseCaseRefused):
    """The request's JSON or query parameters do not fit the operation's model."""


def encode_cursor(key: str) -> str:
    """A list's cursor: opaque to callers (base64url of the last item's sort key)."""
    return base64.urlsafe_b64encode(key.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str, valid: re.Pattern[str]) -> str:
    """The sort key a cursor continues after, if it is one `valid` allows; else 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError):
        key = ""
    if not valid.fullmatch(key):
        raise BadRequest("cursor: not a cursor this API gave (use next_cursor as it is)")
    return key


def _query(operation: Operation, request: Request) -> dict[str, str]:
    """The query parameters; one the operation does not take is refused, not ignored: a
    typo'd filter must not quietly act on everything."""
    params = _single_valued(request)
    if operation.query is None and params:
        raise BadRequest(f"{sorted(params)[0]}: this operation takes no query parameters")
    return params


def _single_valued(request: Request) -> dict[str, str]:
    """The query parameters, each given once: a repeated one would be read as its last value
    and widen or narrow what the caller meant."""
    repeated = sorted({k for k, _ in request.query_params.multi_items()
                       if len(request.query_params.getlist(k)) > 1})  # fmt: skip
    if repeated:
        raise BadRequest(f"{repeated[0]}: give the parameter once")
    _refuse_nul(request.query_params.values(), "a query parameter")
    return dict(request.query_params)


async def _json_body(request: Request) -> Any:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise BadRequest("the body must be JSON (Content-Type: application/json)")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not JSON") from None
    _refuse_nul(_strings_in(body), "the body")
    return body


def _strings_in(document: Any) -> list[str]:
    """Every string of a parsed JSON document, keys included."""
    found: list[str] = []
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def _refuse_nul(texts: Iterable[str], where: str) -> None:
    """No store keeps a NUL in text (PostgreSQL refuses it), nor does any name or id have one."""
    if any("\x00" in text for text in texts):
        raise BadRequest(f"{where} holds a NUL character")


def _parsed(model: type[BaseModel] | None, data: Any) -> Any:
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        raise BadRequest(_first_problem(invalid)) from None


def _first_problem(invalid: ValidationError) -> str:
    """One readable line: where and what (pydantic's message, never the value sent)."""
    problem = invalid.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    return f"{where}: {problem['msg']}"


def _refusal(error: IdplusError) -> Response:
    if isinstance(error, NotFoundError):
        status, code = 404, "not_found"
    elif isinstance(error, PreconditionFailed):
        status, code = 412, "precondition_failed"
    elif isinstance(error, Forbidden):
        status, code = 403, "access_denied"
    elif isinstance(error, Conflict):
        status, code = 409, "conflict"
    elif isinstance(error, RateLimited):
        status, code = 429, "rate_limited"
    elif isinstance(error, Unavailable):
        status, code = 503, "temporarily_unavailable"
    else:
        status, code = 400, "invalid_request"
    log.info("admin_api_refused", error=code, detail=error.detail)
    body = {"error": code, "error_description": error.description}
    headers = dict(NO_STORE)
    if isinstance(error, RateLimited):
        # RFC 9110 §10.2.3: when to try again, in seconds.
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse(body, status_code=status, headers=headers)


def _rendered(result: Result) -> Response:
    headers = dict(NO_STORE)
    if result.etag is not None:
        headers["ETag"] = result.etag
    if result.body is None:
        return Response(status_code=result.status, headers=headers)
    return JSONResponse(
        result.body.model_dump(mode="json"), status_code=result.status, headers=headers
    )
