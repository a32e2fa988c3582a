"""grant_type=refresh_token (RFC 6749 §6) under the refresh policies of SPEC §2.

- Only while the token's SSO session lives; otherwise invalid_grant (the "logged out" signal).
- Rotating policies (public clients) use each token once; presenting a used one again
  revokes its whole family (RFC 9700 §4.14.2). Fixed policies never extend the expiry.
- Scope may be narrowed, never widened.
- Legacy token exchange: `tnuId` switches the access token to another profile of the same
  account, for clients flagged update_at_claims holding account.profiles.
"""

from __future__ import annotations

from datetime import datetime

from idplus.crypto.hashing import hash_handle
from idplus.crypto.keys import KeyRing
from idplus.errors import InvalidGrant, InvalidScope, OAuthError, UnauthorizedClient
from idplus.models import Client, RefreshToken, User
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.grants import committed_outcome, required
from idplus.protocol.issuance import RefreshLineage, TokenResponse, issue_tokens
from idplus.protocol.params import Params, split_space_list
from idplus.protocol.sso import live_login
from idplus.store.base import UnitOfWork

USES_STORE = True
PROFILE_PARAMETER = "tnuId"


def refresh(ctx: AppContext, ring: KeyRing, client: Client, params: Params) -> TokenResponse:
    presented = required(params, "refresh_token")
    if params.get(PROFILE_PARAMETER) is not None and not client.update_at_claims:
        raise UnauthorizedClient("this client may not use the legacy token exchange")
    token_hash = hash_handle(ctx.secrets.handle_key, presented)
    now = ctx.clock.now()
    return committed_outcome(
        ctx, lambda uow: _refresh(uow, ctx, ring, client, params, token_hash, now)
    )


def _refresh(
    uow: UnitOfWork,
    ctx: AppContext,
    ring: KeyRing,
    client: Client,
    params: Params,
    token_hash: str,
    now: datetime,
) -> TokenResponse | OAuthError:
    token = uow.refresh_tokens.find(token_hash)
    if token is None or token.client_id != client.client_id:
        return InvalidGrant("unknown refresh token, or another client's")
    if token.revoked_at is not None:
        return InvalidGrant("the refresh token was revoked")
    rotates = client.rules.refresh_policy.rotates
    if rotates and token.used_at is not None:
        return _reused(uow, token, now)
    if token.expires_at <= now:
        return InvalidGrant("the refresh token has expired")
    login = live_login(uow, token.session_id, now)
    if login is None:
        return InvalidGrant("the user is no longer logged in")
    session, user = login
    # Everything the request asks is checked before the token is spent: a refused request
    # (too wide a scope, say) leaves it usable, so the client's corrected retry is no reuse.
    try:
        grant = _grant(client, token, user, params)
    except OAuthError as problem:
        return problem
    if rotates and not uow.refresh_tokens.consume(token.id, now):
        return _reused(uow, token, now)
    uow.sessions.touch(session, now)
    lineage = RefreshLineage(
        family_id=token.family_id,
        parent_id=token.id,
        absolute_expires_at=token.absolute_expires_at,
    )
    # A non-rotating token stays valid as it is: no new one is issued beside it.
    return issue_tokens(ctx, ring, grant, now, uow=uow, lineage=lineage if rotates else None)


def _reused(uow: UnitOfWork, token: RefreshToken, now: datetime) -> InvalidGrant:
    """A rotated token presented again: someone holds a copy, so the family ends (RFC 9700)."""
    uow.refresh_tokens.revoke_family(token.family_id, now)
    return InvalidGrant("the refresh token was already used: its family is revoked")


def _grant(client: Client, token: RefreshToken, user: User, params: Params) -> Grant:
    return Grant(
        client=client,
        scopes=_narrowed_scopes(token, params.get("scope")),
        user=user,
        session_id=token.session_id,
        auth_time=token.auth_time,
        acr=token.acr,
        amr=token.amr,
        idp=token.idp,
        tnuid=_profile(token, user, params.get(PROFILE_PARAMETER)),
        grant_id=token.grant_id,
    )


def _narrowed_scopes(token: RefreshToken, requested: str | None) -> tuple[str, ...]:
    if requested is None:
        return token.scopes
    scopes = split_space_list(requested)
    wider = [s for s in scopes if s not in token.scopes]
    if wider:
        raise InvalidScope(f"scope {wider[0]} was not granted; a refresh may only narrow")
    return scopes


def _profile(token: RefreshToken, user: User, requested: str | None) -> str | None:
    if requested is None:
        return token.tnuid
    if "account.profiles" not in token.scopes:
        raise InvalidScope("the legacy token exchange needs the account.profiles scope")
    if requested not in user.tnuids:
        raise InvalidGrant("unknown profile for this account")
    return requested
