"""Who may call the admin API (`/admin/api/v1`): the holder of an idplus access token.

An access token carrying `idplus:admin` — which only clients registered with that scope can
get, through client_credentials — is an operator's and may do everything. Any other valid token
opens nothing (403 insufficient_scope); no token or an invalid one is 401 (RFC 6750 §3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from idplus.crypto.keys import KeyRing
from idplus.policies import ADMIN_SCOPE
from idplus.protocol.bearer import (
    InsufficientScope,
    InvalidToken,
    PresentedToken,
    check_not_revoked,
    verify_access_token,
)
from idplus.protocol.context import AppContext
from idplus.protocol.dpop.presentation import check_presentation
from idplus.protocol.dpop.request import DpopEvidence


@dataclass(frozen=True, slots=True)
class AdminCaller:
    """Who called: the client whose `idplus:admin` token it is (the audit trail's actor)."""

    client_id: str

    @property
    def actor(self) -> str:
        """How the audit trail names who made a change."""
        return f"client:{self.client_id}"


def admin_caller(
    ctx: AppContext, ring: KeyRing, presented: PresentedToken, dpop: DpopEvidence | None
) -> AdminCaller:
    """The caller of an admin API request; raises InvalidToken (401) or InsufficientScope
    (403)."""
    access = verify_access_token(
        ring, presented.token, issuer=ctx.settings.issuer, now=ctx.clock.now()
    )
    check_presentation(ctx, access, presented, dpop)
    client_id = str(access.claims.get("client_id"))
    with ctx.store.reading() as uow:
        check_not_revoked(uow, access)
        # Read now, not from the client cache: a removed operator, or one whose admin scope
        # was taken away, opens nothing from that moment on.
        client = uow.clients.find(client_id)
    if client is None or access.predates(client.created_at):
        raise InvalidToken("the token's client no longer exists")
    # A user's token never carries the scope: only client_credentials grants it.
    if (
        ADMIN_SCOPE not in access.scopes
        or ADMIN_SCOPE not in client.scopes
        or access.claims.get("sid") is not None
    ):
        raise InsufficientScope(f"the access token lacks the {ADMIN_SCOPE} scope")
    return AdminCaller(client_id=client_id)
