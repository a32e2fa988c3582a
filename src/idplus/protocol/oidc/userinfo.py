"""The UserInfo endpoint (OIDC Core §5.3): the claims the access token's scopes allow."""

from __future__ import annotations

from typing import Any

from idplus.crypto.keys import KeyRing
from idplus.models import User
from idplus.protocol.access_token import subject_of
from idplus.protocol.bearer import (
    InsufficientScope,
    InvalidToken,
    PresentedToken,
    standing_of,
    verify_access_token,
)
from idplus.protocol.context import AppContext
from idplus.protocol.dpop.presentation import check_presentation
from idplus.protocol.dpop.request import DpopEvidence
from idplus.protocol.grant import Grant
from idplus.protocol.sso import usable_session


def scoped_claims(user: User, scopes: tuple[str, ...]) -> dict[str, Any]:
    """SPEC §3: which claims each scope releases."""
    claims: dict[str, Any] = {}
    if "profile" in scopes:
        claims.update(
            given_name=user.given_name,
            family_name=user.family_name,
            birthdate=user.birthdate.isoformat() if user.birthdate else None,
            kurtid=user.kurtid,
            analytics_uuid=user.analytics_uuid,
        )
    if "email" in scopes:
        claims["email"] = user.email
    if "phone" in scopes:
        claims["phone_number"] = user.phone_number
    if "tnn.legacy" in scopes:
        for name in ("legacy_username", "legacy_usertype", "legacy_status", "legacy_roles"):
            claims[name] = user.legacy.get(name)
    if "account.profiles" in scopes:
        claims["profiles"] = list(user.tnuids)
    return {name: value for name, value in claims.items() if value is not None}


def userinfo(
    ctx: AppContext, ring: KeyRing, presented: PresentedToken, dpop: DpopEvidence | None
) -> dict[str, Any]:
    now = ctx.clock.now()
    access = verify_access_token(ring, presented.token, issuer=ctx.settings.issuer, now=now)
    check_presentation(ctx, access, presented, dpop)
    if "openid" not in access.scopes:
        raise InsufficientScope("the access token lacks the openid scope")
    client = ctx.clients.find(str(access.claims.get("client_id")))
    with ctx.store.reading() as uow:
        # Read now, not from the client cache: a removed client's tokens die with it at once.
        standing = standing_of(uow, access, with_user=True)
    if standing.revoked:
        raise InvalidToken("the access token was revoked")
    session = usable_session(standing.session, now)
    user = standing.user if session is not None else None
    registered_at = standing.client_registered_at
    if (
        user is None
        or client is None
        or registered_at is None
        or access.predates(registered_at)
        or access.predates(client.created_at)
    ):
        raise InvalidToken("the user's session has ended, or the client was removed")
    subject = subject_of(Grant(client=client, scopes=(), user=user), ctx.secrets.pairwise_salt)
    if subject != access.claims.get("sub"):
        raise InvalidToken("the access token does not belong to this session")
    return {"sub": subject, **scoped_claims(user, access.scopes)}
