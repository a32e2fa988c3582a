"""grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4-3.5).

Polls are recorded even when they fail, so `slow_down` (interval + 5 s) holds across polls.
The device code burns only on the user's decision being redeemed or on a terminal error:
`authorization_pending` and `slow_down` leave it as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idplus.crypto.hashing import hash_handle
from idplus.errors import InvalidGrant, OAuthError
from idplus.models import Client
from idplus.policies import GRANT_DEVICE_CODE
from idplus.protocol.context import AppContext
from idplus.protocol.device import SLOW_DOWN_STEP
from idplus.protocol.grants import Front, GrantType, committed_outcome, required
from idplus.protocol.grants.approved_login import tokens_for_approval
from idplus.protocol.issuance import TokenResponse
from idplus.protocol.params import Params
from idplus.protocol.sso import live_login
from idplus.store.base import UnitOfWork


@dataclass(frozen=True, slots=True)
class DeviceCodeRequest:
    device_code: str


class DeviceCodeGrant(GrantType[DeviceCodeRequest]):
    name = GRANT_DEVICE_CODE

    def parse(self, params: Params) -> DeviceCodeRequest:
        return DeviceCodeRequest(required(params, "device_code"))

    def redeem(
        self, ctx: AppContext, front: Front, client: Client, request: DeviceCodeRequest
    ) -> TokenResponse:
        code_hash = hash_handle(ctx.secrets.handle_key, request.device_code)
        now = ctx.clock.now()
        return committed_outcome(ctx, lambda uow: _poll(uow, ctx, front, client, code_hash, now))


def _poll(
    uow: UnitOfWork,
    ctx: AppContext,
    front: Front,
    client: Client,
    code_hash: str,
    now: datetime,
) -> TokenResponse | OAuthError:
    request = uow.devices.find_by_device_code(code_hash)
    if request is None or request.client_id != client.client_id:
        return InvalidGrant("unknown device_code")
    if request.status == "used":
        return InvalidGrant("the device_code was already used")
    if request.expires_at <= now:
        return OAuthError("the device_code has expired", error="expired_token")
    last = request.last_polled_at
    if last is not None and (now - last).total_seconds() < request.interval:
        uow.devices.record_poll(code_hash, now, request.interval + SLOW_DOWN_STEP)
        return OAuthError("polling too fast", error="slow_down")
    uow.devices.record_poll(code_hash, now, request.interval)
    if request.status == "pending":
        return OAuthError("the user has not answered yet", error="authorization_pending")
    if request.status == "denied":
        return OAuthError("the user denied the request", error="access_denied")
    login = live_login(uow, request.session_id, now)
    if not uow.devices.redeem(code_hash):
        return InvalidGrant("the device_code was already used")
    if login is None:
        return InvalidGrant("the user is no longer logged in")  # terminal: the code stays used
    return tokens_for_approval(uow, ctx, front, client, request, login, now)
