"""grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3).

A code works once. A second use fails and revokes what the first use issued (RFC 6749
§4.1.2, RFC 9700 §4.2.4). Consuming, checking and issuing happen in one transaction that
commits even when a check fails, so a failed attempt still uses the code up.
"""

from __future__ import annotations

from datetime import datetime

from idplus.crypto.hashing import hash_handle
from idplus.crypto.keys import KeyRing
from idplus.errors import InvalidGrant, OAuthError
from idplus.models import Client, CodeGrant
from idplus.protocol import pkce
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.grants import committed_outcome, required
from idplus.protocol.issuance import TokenResponse, issue_tokens, new_lineage
from idplus.protocol.params import Params
from idplus.protocol.sso import live_login
from idplus.store.base import UnitOfWork

USES_STORE = True


def exchange(ctx: AppContext, ring: KeyRing, client: Client, params: Params) -> TokenResponse:
    code_hash = hash_handle(ctx.secrets.handle_key, required(params, "code"))
    now = ctx.clock.now()
    return committed_outcome(
        ctx, lambda uow: _exchange(uow, ctx, ring, client, params, code_hash, now)
    )


def _exchange(
    uow: UnitOfWork,
    ctx: AppContext,
    ring: KeyRing,
    client: Client,
    params: Params,
    code_hash: str,
    now: datetime,
) -> TokenResponse | OAuthError:
    stored = uow.codes.find(code_hash)
    if stored is None or stored.client_id != client.client_id:
        return InvalidGrant("the authorization code is invalid")
    if not uow.codes.consume(code_hash, now):
        _revoke_what_the_code_issued(uow, stored, now)
        return InvalidGrant("the authorization code was already used")
    problem = _check(stored, params, now)
    if problem is not None:
        return problem
    login = live_login(uow, stored.session_id, now)
    if login is None:
        return InvalidGrant("the user is no longer logged in")
    session, user = login
    grant = Grant(
        client=client,
        scopes=stored.scopes,
        user=user,
        session_id=session.id,
        auth_time=stored.auth_time,
        acr=stored.acr,
        amr=stored.amr,
        idp=stored.idp,
        nonce=stored.nonce,
        preferred_username=str(stored.claims.get("preferred_username") or user.username),
        grant_id=stored.grant_id,
    )
    response = issue_tokens(ctx, ring, grant, now, uow=uow, lineage=new_lineage(ctx.random))
    uow.codes.record_issued_access_token(
        code_hash, response.access_token_jti, response.access_token_expires_at
    )
    return response


def _check(stored: CodeGrant, params: Params, now: datetime) -> OAuthError | None:
    if stored.expires_at <= now:
        return InvalidGrant("the authorization code has expired")
    if params.get("redirect_uri") != stored.redirect_uri:
        return InvalidGrant("redirect_uri differs from the authorization request")
    verifier = params.get("code_verifier")
    if stored.code_challenge is None:
        if verifier is not None:
            return InvalidGrant("code_verifier sent for a code issued without PKCE")
        return None
    if verifier is None:
        return InvalidGrant("code_verifier is required")
    if not pkce.verifier_matches(verifier, stored.code_challenge):
        return InvalidGrant("code_verifier does not match the code_challenge")
    return None


def _revoke_what_the_code_issued(uow: UnitOfWork, stored: CodeGrant, now: datetime) -> None:
    uow.refresh_tokens.revoke_grant(stored.grant_id, now)
    issued = uow.codes.issued_access_token(stored.code_hash)
    if issued is not None:
        uow.revoked_access_tokens.revoke(*issued)
