"""Tokens returned from the authorization endpoint itself, for clients registered for the
hybrid or implicit response types (OIDC Core §3.2, §3.3; Multiple Response Types §3-5).

The ID token then carries c_hash, at_hash and s_hash for what travels beside it. Refresh
tokens never come from here.
"""

from __future__ import annotations

from datetime import datetime

from idplus.metrics import TokenKind
from idplus.models import AuthorizationRequest, Client, SsoSession, User
from idplus.protocol.access_token import mint_access_token, subject_of
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.oidc.id_token import mint_id_token

IMPLICIT = "implicit"


def front_channel_tokens(
    ctx: AppContext,
    *,
    request: AuthorizationRequest,
    client: Client,
    session: SsoSession,
    user: User,
    code: str | None,
    now: datetime,
) -> dict[str, str]:
    kinds = request.response_type.split()
    if "token" not in kinds and "id_token" not in kinds:
        return {}
    ring = ctx.keys.current()
    settings, salt = ctx.settings, ctx.secrets.pairwise_salt
    grant = Grant(
        client=client,
        scopes=tuple(s for s in request.scopes if s != "offline_access"),
        user=user,
        session_id=session.id,
        auth_time=session.auth_time,
        acr=session.acr,
        amr=session.amr,
        idp=session.idp,
        extsub=session.upstream_subject,
        nonce=request.nonce,
        preferred_username=user.username,
    )
    values: dict[str, str] = {}
    access_token = None
    if "token" in kinds:
        lifetime = client.access_token_lifetime or settings.access_token_lifetime
        minted = mint_access_token(
            grant,
            ring,
            issuer=settings.issuer,
            pairwise_salt=salt,
            now=now,
            lifetime=lifetime,
            random=ctx.random,
        )
        access_token = minted.token
        values.update(
            access_token=access_token,
            token_type="Bearer",
            expires_in=str(lifetime),
            scope=" ".join(grant.scopes),
        )
    if "id_token" in kinds:
        values["id_token"] = mint_id_token(
            grant,
            ring,
            issuer=settings.issuer,
            subject=subject_of(grant, salt),
            now=now,
            lifetime=client.id_token_lifetime or settings.id_token_lifetime,
            access_token=access_token,
            code=code,
            state=request.state,
        )
    # Counted as minted (they are stateless JWTs): under the implicit grant's name, which
    # hybrid responses share.
    issued = [TokenKind(kind) for kind in ("access_token", "id_token") if kind in values]
    ctx.identity_metrics.tokens_issued(IMPLICIT, client.client_type.value, issued)
    return values
