"""grant_type=refresh_token (RFC 6749 §6) under the refresh policies of SPEC §2, on both fronts.

- A token works only on the front that issued it, and only for its own client.
- A token bound to an SSO session works only while the session lives; otherwise invalid_grant
  (the "logged out" signal). The gateway's password grant has no session, nor its tokens.
- Rotating tokens (public clients; every gateway token) are used once; presenting a used one
  again revokes its whole family and the reference access tokens of its authorization
  (RFC 9700 §4.14.2). Fixed policies never extend the expiry.
- Scope may be narrowed, never widened.
- Legacy token exchange: `tnuId` switches the access token to another profile of the same
  account, for clients flagged update_at_claims holding account.profiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idplus.crypto.hashing import hash_handle
from idplus.errors import InvalidGrant, InvalidScope, OAuthError, UnauthorizedClient
from idplus.models import AuditEvent, Client, RefreshToken, SsoSession, User
from idplus.policies import GRANT_REFRESH_TOKEN
from idplus.protocol.account_lock import is_locked
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.grants import Front, GrantType, committed_outcome, required
from idplus.protocol.issuance import RefreshLineage, TokenResponse, issue_tokens, refresh_rotates
from idplus.protocol.params import Params, split_space_list
from idplus.protocol.sso import live_login
from idplus.store.base import UnitOfWork

PROFILE_PARAMETER = "tnuId"


@dataclass(frozen=True, slots=True)
class RefreshRequest:
    refresh_token: str
    # None: the scopes of the token, unchanged.
    scopes: tuple[str, ...] | None
    # The legacy token exchange's profile (tnuId).
    profile: str | None


class RefreshTokenGrant(GrantType[RefreshRequest]):
    name = GRANT_REFRESH_TOKEN

    def parse(self, params: Params) -> RefreshRequest:
        scope = params.get("scope")
        return RefreshRequest(
            refresh_token=required(params, "refresh_token"),
            scopes=split_space_list(scope) if scope is not None else None,
            profile=params.get(PROFILE_PARAMETER),
        )

    def redeem(
        self, ctx: AppContext, front: Front, client: Client, request: RefreshRequest
    ) -> TokenResponse:
        if request.profile is not None and not client.update_at_claims:
            raise UnauthorizedClient("this client may not use the legacy token exchange")
        token_hash = hash_handle(ctx.secrets.handle_key, request.refresh_token)
        now = ctx.clock.now()
        try:
            return committed_outcome(
                ctx, lambda uow: _refresh(uow, ctx, front, client, request, token_hash, now)
            )
        except RefreshTokenReused:
            # Counted once the family's revocation committed.
            ctx.identity_metrics.refresh_token_reused(client.client_type.value)
            raise


class RefreshTokenReused(InvalidGrant):
    """A rotated refresh token presented again (for the client, invalid_grant like any other)."""


def _refresh(
    uow: UnitOfWork,
    ctx: AppContext,
    front: Front,
    client: Client,
    request: RefreshRequest,
    token_hash: str,
    now: datetime,
) -> TokenResponse | OAuthError:
    token = uow.refresh_tokens.find(token_hash)
    if token is None or token.client_id != client.client_id or token.front != front.name:
        return InvalidGrant("unknown refresh token, another client's, or another front's")
    if token.revoked_at is not None:
        return InvalidGrant("the refresh token was revoked")
    if token.dpop_jkt is not None and token.dpop_jkt != front.dpop_jkt:
        # RFC 9449 §5: a public client's token works only with a proof of its key. A copy
        # without the key is refused before anything else: neither spent nor, if already
        # used, taken as reuse that would end the owner's family.
        return InvalidGrant("the refresh token is bound to another DPoP key, or no proof came")
    rotates = refresh_rotates(front.name, client.rules.refresh_policy)
    if rotates and token.used_at is not None:
        return _reused(uow, token, now)
    if token.expires_at <= now:
        return InvalidGrant("the refresh token has expired")
    login = _login(uow, token, now)
    if login is None:
        return InvalidGrant("the user is no longer logged in, removed or locked")
    session, user = login
    # Everything the request asks is checked before the token is spent: a refused request
    # (too wide a scope, say) leaves it usable, so the client's corrected retry is no reuse.
    try:
        grant = _grant(client, token, user, request, session)
    except OAuthError as problem:
        return problem
    if rotates and not uow.refresh_tokens.consume(token.id, now):
        return _reused(uow, token, now)
    if session is not None:
        uow.sessions.touch(session, now)
    lineage = RefreshLineage(
        family_id=token.family_id,
        parent_id=token.id,
        absolute_expires_at=token.absolute_expires_at,
    )
    # A non-rotating token stays valid as it is: no new one is issued beside it.
    return issue_tokens(
        ctx, front.tokens, grant, now, uow=uow, lineage=lineage if rotates else None
    )


def _login(
    uow: UnitOfWork, token: RefreshToken, now: datetime
) -> tuple[SsoSession | None, User] | None:
    """The token's live session and user; a token bound to no session needs only its user.
    A locked user (account_lock.py) has neither."""
    if token.session_id is not None:
        return live_login(uow, token.session_id, now)
    user = uow.users.find(token.user_id)
    return (None, user) if user is not None and not is_locked(user) else None


def _reused(uow: UnitOfWork, token: RefreshToken, now: datetime) -> RefreshTokenReused:
    """A rotated token presented again: someone holds a copy, so the family ends (RFC 9700),
    with the gateway's reference access tokens issued from the same authorization."""
    uow.refresh_tokens.revoke_family(token.family_id, now)
    if token.grant_id is not None:
        uow.gateway_tokens.revoke_grant(token.grant_id, now)
    # Rare, and a sign of a stolen token: the operator wants to know whose.
    detail = {"sid": token.session_id} if token.session_id is not None else {}
    uow.audit.record(
        AuditEvent(
            "token.refresh_reuse_detected",
            now,
            client_id=token.client_id,
            user_id=token.user_id,
            detail={**detail, "front": token.front},
        )
    )
    return RefreshTokenReused("the refresh token was already used: its family is revoked")


def _grant(
    client: Client,
    token: RefreshToken,
    user: User,
    request: RefreshRequest,
    session: SsoSession | None,
) -> Grant:
    return Grant(
        client=client,
        scopes=_narrowed_scopes(token, request.scopes),
        user=user,
        session_id=token.session_id,
        auth_time=token.auth_time,
        acr=token.acr,
        amr=token.amr,
        idp=token.idp,
        extsub=session.upstream_subject if session is not None else None,
        tnuid=_profile(token, user, request.profile),
        grant_id=token.grant_id,
    )


def _narrowed_scopes(token: RefreshToken, requested: tuple[str, ...] | None) -> tuple[str, ...]:
    if requested is None:
        return token.scopes
    wider = [s for s in requested if s not in token.scopes]
    if wider:
        raise InvalidScope(f"scope {wider[0]} was not granted; a refresh may only narrow")
    return requested


def _profile(token: RefreshToken, user: User, requested: str | None) -> str | None:
    if requested is None:
        return token.tnuid
    if "account.profiles" not in token.scopes:
        raise InvalidScope("the legacy token exchange needs the account.profiles scope")
    if requested not in user.tnuids:
        raise InvalidGrant("unknown profile for this account")
    return requested
