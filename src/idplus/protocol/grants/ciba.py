"""grant_type=urn:openid:params:grant-type:ciba (CIBA Core 1.0 §10.1, §11).

Polls are paced by the request's next_poll_at, taken in one conditional UPDATE: a poll before
it is `slow_down` and moves the interval up by 5 s (never the first poll). The auth_req_id is
used up only by the one successful redemption or a terminal error after approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idplus.crypto.hashing import hash_handle
from idplus.errors import AccessDenied, InvalidGrant, OAuthError
from idplus.models import Client
from idplus.policies import GRANT_CIBA
from idplus.protocol.context import AppContext
from idplus.protocol.grants import Front, GrantType, committed_outcome, required
from idplus.protocol.grants.approved_login import tokens_for_approval
from idplus.protocol.issuance import TokenResponse
from idplus.protocol.params import Params
from idplus.protocol.sso import live_login
from idplus.store.base import UnitOfWork

SLOW_DOWN_STEP = 5


@dataclass(frozen=True, slots=True)
class CibaTokenRequest:
    auth_req_id: str


class CibaGrant(GrantType[CibaTokenRequest]):
    name = GRANT_CIBA

    def parse(self, params: Params) -> CibaTokenRequest:
        return CibaTokenRequest(required(params, "auth_req_id"))

    def redeem(
        self, ctx: AppContext, front: Front, client: Client, request: CibaTokenRequest
    ) -> TokenResponse:
        request_hash = hash_handle(ctx.secrets.handle_key, f"ciba:{request.auth_req_id}")
        now = ctx.clock.now()
        return committed_outcome(ctx, lambda uow: _poll(uow, ctx, front, client, request_hash, now))


def _poll(
    uow: UnitOfWork,
    ctx: AppContext,
    front: Front,
    client: Client,
    request_hash: str,
    now: datetime,
) -> TokenResponse | OAuthError:
    request = uow.ciba.find(request_hash)
    if request is None or request.client_id != client.client_id:
        return InvalidGrant("unknown auth_req_id, or another client's")
    if request.status == "used":
        return InvalidGrant("the auth_req_id was already used")
    if request.expires_at <= now:
        return OAuthError("the auth_req_id has expired", error="expired_token")
    if not uow.ciba.take_poll(request_hash, now):
        uow.ciba.slow_down(request_hash, SLOW_DOWN_STEP, now)
        return OAuthError("polling too fast", error="slow_down")
    if request.status == "pending":
        return OAuthError("the user has not answered yet", error="authorization_pending")
    if request.status == "denied":
        return AccessDenied("the user denied the request")
    login = live_login(uow, request.session_id, now)
    if not uow.ciba.redeem(request_hash):
        return InvalidGrant("the auth_req_id was already used")
    if login is None:
        return InvalidGrant("the user is no longer logged in")  # terminal: it stays used
    return tokens_for_approval(uow, ctx, front, client, request, login, now)
