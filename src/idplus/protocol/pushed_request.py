"""Pushed authorization requests (RFC 9126).

A client POSTs its authorization request to /connect/par, authenticated as at the token
endpoint. The parameters are validated there exactly as the front channel would validate them
(`authorize.validate_parameters`), so every mistake reaches the client as JSON instead of
sending a user to an error page. The validated request is kept under the HMAC of a random
`request_uri` for LIFETIME_SECONDS; the authorization endpoint takes it back once, for the
client that pushed it, and ignores every other front-channel parameter (RFC 9126 §4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta

from idplus.crypto.hashing import hash_handle
from idplus.errors import FatalAuthorizeError, InvalidRequest, UnauthorizedClient
from idplus.logs import get_logger
from idplus.models import AuthorizationRequest, Client, PushedRequest
from idplus.protocol.authorize import (
    CIBA_CLIENT,
    NO_CLIENT_ID,
    PUSHED_REQUEST_GONE,
    PUSHED_REQUEST_MALFORMED,
    REPEATED,
    UNKNOWN_CLIENT,
    KnownClientRefused,
    RedirectableError,
    validate_parameters,
)
from idplus.protocol.context import AppContext
from idplus.protocol.dpop.proof import InvalidDpopProof
from idplus.protocol.dpop.request import DpopEvidence, checked_proof, proof_algorithms
from idplus.protocol.params import Params
from idplus.store.base import UnitOfWork

log = get_logger(__name__)

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
# RFC 9126 §2.2 suggests 5-600 s; a browser is sent on at once, so a minute is plenty.
LIFETIME_SECONDS = 60
# What `Randomness.handle(32)` makes (43 characters), with room for a longer handle later.
_HANDLE = re.compile(r"[A-Za-z0-9_-]{32,128}")


@dataclass(frozen=True, slots=True)
class PushedAuthorization:
    """The 201 answer of RFC 9126 §2.2."""

    request_uri: str
    expires_in: int

    def to_json(self) -> dict[str, object]:
        return {"request_uri": self.request_uri, "expires_in": self.expires_in}


def push_authorization_request(
    ctx: AppContext, client: Client, params: Params, dpop: DpopEvidence | None = None
) -> PushedAuthorization:
    """Validate an authenticated client's pushed parameters and keep them for one use. A DPoP
    proof sent with the push binds the code to its key, as `dpop_jkt` would (RFC 9449 §10.1)."""
    if params.get("request_uri") is not None:
        # RFC 9126 §2.1: a push refers to no other request.
        raise InvalidRequest("request_uri must not be sent to the pushed authorization endpoint")
    request = _validated(client, params)
    proof = checked_proof(ctx, dpop, algorithms=proof_algorithms(client))
    if proof is not None:
        if request.dpop_jkt not in (None, proof.jkt):
            raise InvalidDpopProof("dpop_jkt names another key than the DPoP proof's")
        request = replace(request, dpop_jkt=proof.jkt)
    handle, now = ctx.random.handle(32), ctx.clock.now()
    pushed = PushedRequest(
        request_uri_hash=_hash(ctx, handle),
        client_id=client.client_id,
        request=request,
        locale_from_browser=params.get("ui_locales") is None,
        created_at=now,
        expires_at=now + timedelta(seconds=LIFETIME_SECONDS),
    )
    with ctx.store.transaction() as uow:
        uow.pushed_requests.insert(pushed)
    log.info("authorization_pushed", client_id=client.client_id)
    return PushedAuthorization(REQUEST_URI_PREFIX + handle, LIFETIME_SECONDS)


def _validated(client: Client, params: Params) -> AuthorizationRequest:
    """The front channel's validation, its refusals turned into errors for the client."""
    try:
        return validate_parameters(params, client, pushed=True)
    except KnownClientRefused as problem:
        if problem.description == CIBA_CLIENT:
            raise UnauthorizedClient(
                "this client uses CIBA and cannot send users to the authorization endpoint"
            ) from None
        raise InvalidRequest(problem.detail) from None
    except RedirectableError as problem:
        raise problem.error from None


def is_pushed(params: Params) -> bool:
    """Whether a front-channel request refers to a pushed request (any other request_uri is a
    request object by reference, which idplus does not support)."""
    request_uri = params.get("request_uri")
    return request_uri is not None and request_uri.startswith(REQUEST_URI_PREFIX)


def take_pushed_request(
    uow: UnitOfWork, ctx: AppContext, params: Params, fallback_locale: str = "en"
) -> tuple[Client, AuthorizationRequest]:
    """The client and the pushed request the browser's request_uri names, removed so that it
    serves once. Pages follow the browser's language (`fallback_locale`) unless the push named
    ui_locales.

    Raises FatalAuthorizeError when there is no such request for this client: the redirect URI
    is in the request, so without it the browser cannot be sent back.
    """
    client = _front_channel_client(uow, params)
    if "request_uri" in params.repeated:
        raise KnownClientRefused(PUSHED_REQUEST_MALFORMED, client, detail="request_uri repeated")
    handle = (params.get("request_uri") or "").removeprefix(REQUEST_URI_PREFIX)
    if not _HANDLE.fullmatch(handle):
        raise KnownClientRefused(
            PUSHED_REQUEST_MALFORMED, client, detail="invalid_request_uri: not one idplus issues"
        )
    pushed = uow.pushed_requests.consume(_hash(ctx, handle), client.client_id, ctx.clock.now())
    if pushed is None:
        raise KnownClientRefused(
            PUSHED_REQUEST_GONE,
            client,
            detail="invalid_request_uri: unknown, expired, used or pushed by another client",
        )
    request = pushed.request
    if pushed.locale_from_browser:
        request = replace(request, ui_locale=fallback_locale)
    return client, request


def _front_channel_client(uow: UnitOfWork, params: Params) -> Client:
    """RFC 9126 §4: client_id must come with the request_uri (and match the push)."""
    if "client_id" in params.repeated:
        raise FatalAuthorizeError(REPEATED, detail="client_id must be given once")
    client_id = params.get("client_id")
    if client_id is None:
        raise FatalAuthorizeError(NO_CLIENT_ID, detail="client_id is missing")
    client = uow.clients.find(client_id)
    if client is None:
        raise FatalAuthorizeError(UNKNOWN_CLIENT, detail="unknown client_id")
    return client


def _hash(ctx: AppContext, handle: str) -> str:
    return hash_handle(ctx.secrets.handle_key, f"par:{handle}")
