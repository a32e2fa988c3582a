"""grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693), delegation only.

A client holding a user's idplus access token (the subject token) gets one for a downstream
API: the same user (`sub`, `sid`, `acr`, `amr`), the exchanging client as actor (`act`, nested
over the subject's own), no more identity scope than the subject held, `api:` scopes only from
the exchanging client's subscriptions, and never a longer life than the subject's. The new token
names every token it descends from (`ibis.exchanged_from`), so revoking any of them, or ending
the session, ends it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from idplus.clock import epoch_seconds
from idplus.errors import InvalidRequest, InvalidScope, OAuthError
from idplus.models import Client
from idplus.policies import GRANT_TOKEN_EXCHANGE, is_api_scope
from idplus.protocol.access_token import ACCESS_TOKEN_TYPE
from idplus.protocol.bearer import (
    EXCHANGED_FROM,
    MAX_EXCHANGE_DEPTH,
    AccessTokenClaims,
    InvalidToken,
    check_not_revoked,
    verify_access_token,
)
from idplus.protocol.context import AppContext
from idplus.protocol.grants import Front, GrantType, required
from idplus.protocol.issuance import TokenResponse
from idplus.protocol.params import Params, split_space_list
from idplus.protocol.sso import live_session

ACCESS_TOKEN_TYPE_URI = "urn:ietf:params:oauth:token-type:access_token"

# Claims about the user's login, kept from the subject token as they are.
_LOGIN_CLAIMS = ("sub", "sid", "ibis.sid", "acr", "amr", "auth_time", "idp")


class InvalidTarget(OAuthError):
    error = "invalid_target"


@dataclass(frozen=True, slots=True)
class ExchangeRequest:
    subject_token: str
    audience: str | None
    scopes: tuple[str, ...] | None


class TokenExchangeGrant(GrantType[ExchangeRequest]):
    name = GRANT_TOKEN_EXCHANGE

    def parse(self, params: Params) -> ExchangeRequest:
        subject_token = required(params, "subject_token")
        if required(params, "subject_token_type") != ACCESS_TOKEN_TYPE_URI:
            raise InvalidRequest("subject_token_type must be the access_token type")
        requested_type = params.get("requested_token_type")
        if requested_type not in (None, ACCESS_TOKEN_TYPE_URI):
            raise InvalidRequest("only access tokens are issued")
        if params.get("actor_token") is not None or params.get("actor_token_type") is not None:
            raise InvalidRequest("actor tokens are not supported: the client is the actor")
        audience, resource = params.get("audience"), params.get("resource")
        if audience is not None and resource is not None and audience != resource:
            raise InvalidTarget("audience and resource name different targets")
        scope = params.get("scope")
        return ExchangeRequest(
            subject_token, audience or resource, split_space_list(scope) if scope else None
        )

    def redeem(
        self, ctx: AppContext, front: Front, client: Client, request: ExchangeRequest
    ) -> TokenResponse:
        now = ctx.clock.now()
        subject = _live_subject(ctx, request.subject_token, now)
        bound_to = subject.dpop_jkt
        if bound_to is not None and bound_to != front.dpop_jkt:
            # Otherwise a stolen DPoP-bound token would buy an unbound one (RFC 9449 §1).
            raise InvalidRequest(
                "subject_token is DPoP-bound: send a DPoP proof of its key",
                detail="subject token's cnf.jkt differs from the request's proof",
            )
        if len(_exchanged_from(subject)) + 1 > MAX_EXCHANGE_DEPTH:
            raise InvalidRequest("the subject token was exchanged too many times already")
        subject_client = str(subject.claims.get("client_id"))
        if client.exchange_from and subject_client not in client.exchange_from:
            raise InvalidRequest("this client may not exchange that client's tokens")
        target = _target(client, request.audience)
        scopes = _scopes(client, subject, request.scopes, target)
        return _issue(ctx, client, subject, scopes, target, now, front.dpop_jkt)


def _live_subject(ctx: AppContext, token: str, now: datetime) -> AccessTokenClaims:
    """The subject token's claims, if it is an idplus access token still alive: not expired,
    not revoked (nor any token it came from), its session not ended."""
    try:
        subject = verify_access_token(
            ctx.keys.current(), token, issuer=ctx.settings.issuer, now=now
        )
        with ctx.store.reading() as uow:
            check_not_revoked(uow, subject)
            session_id = subject.claims.get("sid")
            if session_id is not None and live_session(uow, str(session_id), now) is None:
                raise InvalidToken("the subject token's session has ended")
    except InvalidToken as invalid:
        raise InvalidRequest(
            "subject_token is not a valid access token", detail=invalid.detail
        ) from None
    return subject


def _target(client: Client, audience: str | None) -> str | None:
    """The API product the new token is for: one the exchanging client subscribes to."""
    if audience is None:
        return None
    if not is_api_scope(audience) or not client.may_request(audience):
        raise InvalidTarget("the client does not subscribe to that audience")
    return audience


def _scopes(
    client: Client,
    subject: AccessTokenClaims,
    requested: tuple[str, ...] | None,
    target: str | None,
) -> tuple[str, ...]:
    held = [s for s in subject.scopes if not is_api_scope(s)]
    wanted = list(requested) if requested is not None else held
    if target is not None and target not in wanted:
        wanted.append(target)
    for scope in wanted:
        allowed = client.may_request(scope) if is_api_scope(scope) else scope in held
        if not allowed:
            raise InvalidScope(f"scope {scope} is not available to this exchange")
    return tuple(dict.fromkeys(wanted))


def _issue(
    ctx: AppContext,
    client: Client,
    subject: AccessTokenClaims,
    scopes: tuple[str, ...],
    target: str | None,
    now: datetime,
    dpop_jkt: str | None,
) -> TokenResponse:
    lifetime = client.access_token_lifetime or ctx.settings.access_token_lifetime
    iat = epoch_seconds(now)
    exp = min(iat + lifetime, subject.expires_at)
    jti = ctx.random.hex_id()
    claims: dict[str, Any] = {
        "iss": ctx.settings.issuer,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "jti": jti,
        "client_id": client.client_id,
        "scope": list(scopes),
        **{name: subject.claims[name] for name in _LOGIN_CLAIMS if name in subject.claims},
        "act": _actor(client, subject),
        EXCHANGED_FROM: [subject.jti, *_exchanged_from(subject)],
    }
    if target is not None:
        claims["aud"] = target
    if dpop_jkt is not None:
        claims["cnf"] = {"jkt": dpop_jkt}
    token = ctx.keys.current().sign(claims, typ=ACCESS_TOKEN_TYPE, alg=client.signing_alg)
    return TokenResponse(
        access_token=token,
        expires_in=exp - iat,
        scope=scopes,
        access_token_jti=jti,
        access_token_expires_at=datetime.fromtimestamp(exp, UTC),
        issued_token_type=ACCESS_TOKEN_TYPE_URI,
        token_type="DPoP" if dpop_jkt is not None else "Bearer",
    )


def _actor(client: Client, subject: AccessTokenClaims) -> dict[str, Any]:
    """RFC 8693 §4.1: the current actor, with the subject token's actor nested inside."""
    actor: dict[str, Any] = {"sub": client.client_id}
    previous = subject.claims.get("act")
    if isinstance(previous, dict):
        actor["act"] = previous
    return actor


def _exchanged_from(subject: AccessTokenClaims) -> list[str]:
    chain = subject.claims.get(EXCHANGED_FROM)
    return [str(jti) for jti in chain] if isinstance(chain, list) else []
