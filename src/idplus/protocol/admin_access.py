"""Who may call the admin API (`/admin/api/v1`): the holder of an idplus access token.

- An operator client: a token carrying `idplus:admin` — which only clients registered with that
  scope can get, through client_credentials — may do everything.
- An operator user: a user with the operator role, through a token of the built-in console
  client (scope `idplus:admin`), may do everything too.
- A developer: a user's token of the built-in portal client (scope `idplus:portal`) reaches
  their own companies (`manage/access.py` decides what inside them) — an operator's too: the
  portal's tokens never carry an operator's power.
Any other valid token opens nothing (403 insufficient_scope); no token or an invalid one is 401
(RFC 6750 §3.1). Everything a decision rests on is read now, not from a cache: a removed
client, an ended session, a locked user or a withdrawn role opens nothing from that moment on.
"""

from __future__ import annotations

from idplus.crypto.keys import KeyRing
from idplus.models import Caller, Client
from idplus.policies import (
    ADMIN_SCOPE,
    CONSOLE_CLIENT_ID,
    OPERATOR_ROLE,
    PORTAL_CLIENT_ID,
    PORTAL_SCOPE,
)
from idplus.protocol.access_token import subject_of
from idplus.protocol.bearer import (
    AccessTokenClaims,
    InsufficientScope,
    InvalidToken,
    PresentedToken,
    check_not_revoked,
    verify_access_token,
)
from idplus.protocol.context import AppContext
from idplus.protocol.dpop.presentation import check_presentation
from idplus.protocol.dpop.request import DpopEvidence
from idplus.protocol.grant import Grant
from idplus.protocol.sso import usable_session
from idplus.store.base import UnitOfWork

# The scope each built-in client's user tokens must carry to reach the admin API.
_USER_CLIENT_SCOPES = {PORTAL_CLIENT_ID: PORTAL_SCOPE, CONSOLE_CLIENT_ID: ADMIN_SCOPE}


def admin_caller(
    ctx: AppContext, ring: KeyRing, presented: PresentedToken, dpop: DpopEvidence | None
) -> Caller:
    """The caller of an admin API request; raises InvalidToken (401) or InsufficientScope
    (403)."""
    access = verify_access_token(
        ring, presented.token, issuer=ctx.settings.issuer, now=ctx.clock.now()
    )
    check_presentation(ctx, access, presented, dpop)
    client_id = str(access.claims.get("client_id"))
    with ctx.store.reading() as uow:
        check_not_revoked(uow, access)
        client = uow.clients.find(client_id)
        if client is None or access.predates(client.created_at):
            raise InvalidToken("the token's client no longer exists")
        if client_id in _USER_CLIENT_SCOPES:
            return _user_caller(ctx, uow, access, client)
    # A user's token never carries the scope: only client_credentials grants it.
    if (
        ADMIN_SCOPE not in access.scopes
        or ADMIN_SCOPE not in client.scopes
        or access.claims.get("sid") is not None
    ):
        raise InsufficientScope(f"the access token lacks the {ADMIN_SCOPE} scope")
    return Caller.admin_client(client_id)


def _user_caller(
    ctx: AppContext, uow: UnitOfWork, access: AccessTokenClaims, client: Client
) -> Caller:
    """A portal (developer) or console (operator) user's token: its session must be live, its
    user unlocked, and the console's must belong to an operator."""
    if _USER_CLIENT_SCOPES[client.client_id] not in access.scopes:
        raise InsufficientScope(
            f"the access token lacks the {_USER_CLIENT_SCOPES[client.client_id]} scope"
        )
    session_id = access.claims.get("sid")
    session = uow.sessions.find(str(session_id)) if session_id else None
    session = usable_session(session, ctx.clock.now())
    user = uow.users.find(session.user_id) if session is not None else None
    if user is None or user.disabled_at is not None:
        raise InvalidToken("the user's session has ended")
    subject = subject_of(Grant(client=client, scopes=(), user=user), ctx.secrets.pairwise_salt)
    if subject != access.claims.get("sub"):
        raise InvalidToken("the access token does not belong to this session")
    if client.client_id != CONSOLE_CLIENT_ID:
        # A portal token is a developer's, whoever holds it: an operator's power comes only
        # through the console's tokens, so a developer script's token never carries it.
        return Caller.user(user.id, operator=False)
    if OPERATOR_ROLE not in uow.users.roles_of(user.id):
        raise InsufficientScope("the console's tokens open the API to operators only")
    return Caller.user(user.id, operator=True)
