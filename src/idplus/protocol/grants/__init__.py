"""The grant engine's parts: a grant is an object that parses its typed request and redeems
it — validates everything the request asks, consumes what is one-time, and issues through
`issuance.issue_tokens` in the front's token format. Which front serves which grant is the
table in `protocol/token_endpoint.py`; one module per grant sits beside this one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Generic, TypeVar

from idplus.errors import InvalidGrant, InvalidRequest, InvalidScope, OAuthError
from idplus.models import Client
from idplus.policies import is_api_scope
from idplus.protocol.context import AppContext
from idplus.protocol.issuance import TokenFormat, TokenResponse
from idplus.protocol.params import Params
from idplus.protocol.scopes import validate_requested_scopes
from idplus.store.base import UnitOfWork

RequestT = TypeVar("RequestT")


@dataclass(frozen=True, slots=True)
class Front:
    """What the engine must know of the front a request came through."""

    tokens: TokenFormat
    # The gateway's tokens are for partner APIs: they carry `api:` scopes and nothing else.
    api_scopes_only: bool = False

    @property
    def name(self) -> str:
        return self.tokens.front

    @property
    def dpop_jkt(self) -> str | None:
        """The key this request proved possession of (RFC 9449), if it sent a DPoP proof."""
        return self.tokens.dpop_jkt

    def requested_scopes(self, client: Client, requested: tuple[str, ...]) -> tuple[str, ...]:
        """Scopes a grant without a user's consent asks for: without `scope`, the client's
        API products; otherwise only scopes the client may have (invalid_scope)."""
        if not requested:
            return client.api_products if client.api_access else ()
        if self.api_scopes_only:
            for scope in requested:
                if not is_api_scope(scope):
                    raise InvalidScope(f"scope {scope} is not an API scope")
        return validate_requested_scopes(requested, client)

    def granted_scopes(self, scopes: tuple[str, ...]) -> tuple[str, ...]:
        """What a user's authorization yields on this front."""
        return tuple(s for s in scopes if is_api_scope(s)) if self.api_scopes_only else scopes


class GrantType(ABC, Generic[RequestT]):
    """One grant_type of the token endpoint."""

    name: ClassVar[str]
    # False when, with a format that stores nothing, the grant needs no store at all (it may
    # then run on the event loop: client_credentials on /connect).
    uses_store: ClassVar[bool] = True

    @abstractmethod
    def parse(self, params: Params) -> RequestT:
        """The typed request; missing or malformed parameters are invalid_request."""

    @abstractmethod
    def redeem(
        self, ctx: AppContext, front: Front, client: Client, request: RequestT
    ) -> TokenResponse:
        """Validate before consuming anything, then consume and issue."""

    def handle(
        self, ctx: AppContext, front: Front, client: Client, params: Params
    ) -> TokenResponse:
        return self.redeem(ctx, front, client, self.parse(params))


class MissingParameter(InvalidRequest):
    """A parameter the grant needs is absent (the gateway numbers it by grant)."""


class RedirectUriMismatch(InvalidGrant):
    """redirect_uri differs from the authorization request's. On /connect it reads like any
    invalid_grant; the gateway gives it its own number (SPEC §9: 403/12)."""


class TemporarilyUnavailable(OAuthError):
    """Shed load (every password-hashing slot is busy): the client retries shortly."""

    error = "temporarily_unavailable"
    status_code = 503


def required(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None:
        raise MissingParameter(f"{name} is required")
    return value


def committed_outcome(
    ctx: AppContext, work: Callable[[UnitOfWork], TokenResponse | OAuthError]
) -> TokenResponse:
    """Run a grant in one transaction that commits even when a check fails — a code or a
    rotated token stays used, a reuse stays revoked, a poll stays counted — and raise the
    failure only afterwards."""
    with ctx.store.transaction() as uow:
        outcome = work(uow)
    if isinstance(outcome, OAuthError):
        raise outcome
    return outcome


def revoke_authorization(uow: UnitOfWork, grant_id: str, now: datetime) -> None:
    """Revoke what one authorization (a code exchange, a password grant) issued on either
    front: its refresh-token families and its reference access tokens. A JWT access token
    cannot be recalled this way; its caller puts the jti on the revocation list."""
    uow.refresh_tokens.revoke_grant(grant_id, now)
    uow.gateway_tokens.revoke_grant(grant_id, now)
