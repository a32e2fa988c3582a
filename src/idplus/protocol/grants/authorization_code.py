"""grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3).

A code works once, and any failed redemption burns it: the request is validated first, then
the code is consumed whatever the outcome, in one transaction that commits even when a check
failed. A second use fails and revokes what the first use issued (RFC 6749 §4.1.2, RFC 9700
§4.2.4) — refresh families, reference tokens and the JWT access token's jti — whichever
front the first exchange went through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idplus.crypto.hashing import hash_handle
from idplus.errors import InvalidGrant, OAuthError
from idplus.models import Client, CodeGrant, SsoSession, User
from idplus.policies import GRANT_AUTHORIZATION_CODE
from idplus.protocol import pkce
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.grants import (
    Front,
    GrantType,
    RedirectUriMismatch,
    committed_outcome,
    required,
    revoke_authorization,
)
from idplus.protocol.issuance import TokenResponse, issue_tokens, new_lineage
from idplus.protocol.params import Params
from idplus.protocol.sso import live_login
from idplus.store.base import UnitOfWork


@dataclass(frozen=True, slots=True)
class CodeRequest:
    code: str
    redirect_uri: str | None
    code_verifier: str | None


class AuthorizationCodeGrant(GrantType[CodeRequest]):
    name = GRANT_AUTHORIZATION_CODE

    def parse(self, params: Params) -> CodeRequest:
        return CodeRequest(
            code=required(params, "code"),
            redirect_uri=params.get("redirect_uri"),
            code_verifier=params.get("code_verifier"),
        )

    def redeem(
        self, ctx: AppContext, front: Front, client: Client, request: CodeRequest
    ) -> TokenResponse:
        code_hash = hash_handle(ctx.secrets.handle_key, request.code)
        now = ctx.clock.now()
        return committed_outcome(
            ctx, lambda uow: _redeem(uow, ctx, front, client, request, code_hash, now)
        )


def _redeem(
    uow: UnitOfWork,
    ctx: AppContext,
    front: Front,
    client: Client,
    request: CodeRequest,
    code_hash: str,
    now: datetime,
) -> TokenResponse | OAuthError:
    stored = uow.codes.find(code_hash)
    # Another client's code is left alone: only its own client may spend it.
    if stored is None or stored.client_id != client.client_id:
        return InvalidGrant("the authorization code is invalid")
    login = _validate(uow, stored, request, now, front.dpop_jkt)
    if not uow.codes.consume(code_hash, now):
        _revoke_what_the_code_issued(uow, stored, now)
        return InvalidGrant("the authorization code was already used")
    if isinstance(login, OAuthError):
        return login  # the code stays used: the transaction commits
    session, user = login
    grant = Grant(
        client=client,
        scopes=front.granted_scopes(stored.scopes),
        user=user,
        session_id=session.id,
        auth_time=stored.auth_time,
        acr=stored.acr,
        amr=stored.amr,
        idp=stored.idp,
        extsub=session.upstream_subject,
        nonce=stored.nonce,
        preferred_username=str(stored.claims.get("preferred_username") or user.username),
        grant_id=stored.grant_id,
    )
    response = issue_tokens(ctx, front.tokens, grant, now, uow=uow, lineage=new_lineage(ctx.random))
    if response.access_token_jti is not None:
        uow.codes.record_issued_access_token(
            code_hash, response.access_token_jti, response.access_token_expires_at
        )
    return response


def _validate(
    uow: UnitOfWork, stored: CodeGrant, request: CodeRequest, now: datetime, dpop_jkt: str | None
) -> tuple[SsoSession, User] | OAuthError:
    """Everything the redemption needs, or why it fails; SPEC §2: the login must be alive."""
    problem = _check(stored, request, now)
    if problem is None and stored.dpop_jkt is not None and stored.dpop_jkt != dpop_jkt:
        # RFC 9449 §10: bound through dpop_jkt (or the proof sent with the pushed request).
        problem = InvalidGrant("the code is bound to another DPoP key, or the proof is missing")
    if problem is not None:
        return problem
    login = live_login(uow, stored.session_id, now)
    if login is None:
        return InvalidGrant("the user is no longer logged in")
    return login


def _check(stored: CodeGrant, request: CodeRequest, now: datetime) -> OAuthError | None:
    if stored.expires_at <= now:
        return InvalidGrant("the authorization code has expired")
    if request.redirect_uri != stored.redirect_uri:
        return RedirectUriMismatch("redirect_uri differs from the authorization request")
    verifier = request.code_verifier
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
    revoke_authorization(uow, stored.grant_id, now)
    issued = uow.codes.issued_access_token(stored.code_hash)
    if issued is not None:
        uow.revoked_access_tokens.revoke(*issued)
