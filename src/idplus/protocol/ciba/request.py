"""The backchannel authentication request (CIBA Core 1.0 §7): who must approve, what the
client may learn, and the SMS that takes the approval link to the user's phone.

The request is checked completely before anything is written; the SMS is sent after the
request is stored, and a failed send removes it again, so a client never holds an auth_req_id
nobody was told about.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from idplus.auth import throttle
from idplus.auth.sender import Message
from idplus.auth.sms_texts import ciba_approval_text
from idplus.auth.throttle import Throttled
from idplus.crypto.hashing import hash_handle
from idplus.crypto.secrets import seal_secret
from idplus.errors import (
    AccessDenied,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    UnauthorizedClient,
    ValidationError,
)
from idplus.identifiers import normalise_phone_number
from idplus.logs import get_logger
from idplus.metrics import SmsPurpose
from idplus.models import CibaRequest, Client, User
from idplus.policies import GRANT_CIBA
from idplus.protocol.ciba.hints import UnknownUser, read_hint_token
from idplus.protocol.context import AppContext
from idplus.protocol.grants import TemporarilyUnavailable
from idplus.protocol.params import Params, split_space_list
from idplus.protocol.scopes import validate_requested_scopes

log = get_logger(__name__)

APPROVAL_PATH = "/ciba/approve"
# The BankID-style flow proves two factors.
BANKID_LEVEL = 2
# The flows and their mandatory scope (SPEC §3): approve in the app, or BankID-style.
FLOWS = ("vipps", "bankid")
MAX_EXPIRY = 300
BINDING_MESSAGE_MAX = 40
# Plain characters only, read the same on two screens and in an SMS: Latin letters (with the
# Norwegian ones), digits, spaces, "#" and "-". No ":" "/" "." so it never holds a link.
_BINDING_MESSAGE = re.compile(r"[A-Za-z0-9ÆØÅæøå #\-]{1,40}")
NOTIFICATION_TOKEN_MAX = 1024
# ASCII digits only: str.isdigit() also takes "²", which int() refuses.
_DIGITS = re.compile(r"[0-9]{1,3}")


class InvalidBindingMessage(OAuthError):
    error = "invalid_binding_message"


@dataclass(frozen=True, slots=True)
class CibaStarted:
    auth_req_id: str
    expires_in: int
    interval: int

    def to_json(self) -> dict[str, object]:
        return {
            "auth_req_id": self.auth_req_id,
            "expires_in": self.expires_in,
            "interval": self.interval,
        }


@dataclass(frozen=True, slots=True)
class _Checked:
    user: User
    phone: str
    flow: str
    scopes: tuple[str, ...]
    binding_message: str | None
    expiry: int
    notification_token: str | None


def start_backchannel_authentication(
    ctx: AppContext, client: Client, params: Params
) -> CibaStarted:
    checked = _check(ctx, client, params)
    auth_req_id, approval = ctx.random.handle(32), ctx.random.handle(32)
    key, now = ctx.secrets.handle_key, ctx.clock.now()
    request = CibaRequest(
        auth_req_id_hash=hash_handle(key, f"ciba:{auth_req_id}"),
        client_id=client.client_id,
        user_id=checked.user.id,
        flow=checked.flow,
        scopes=checked.scopes,
        binding_message=checked.binding_message,
        approval_hash=approval_hash(ctx, approval),
        status="pending",
        interval=ctx.settings.ciba_poll_interval_seconds,
        next_poll_at=now,
        created_at=now,
        expires_at=now + timedelta(seconds=checked.expiry),
        ping_sealed=_ping_payload(ctx, auth_req_id, checked.notification_token),
    )
    budget = throttle.ciba_sms_keys(ctx.settings, client.client_id, checked.phone)
    with ctx.store.transaction() as uow:
        try:
            throttle.reserve(uow, budget, now)
        except Throttled:
            raise AccessDenied(
                "too many approval requests for this user; try again later"
            ) from None
        uow.ciba.insert(request)
    _notify(ctx, client, checked, approval, request, budget)
    log.info("ciba_requested", client_id=client.client_id, user_id=checked.user.id,
             flow=checked.flow)  # fmt: skip
    return CibaStarted(auth_req_id, checked.expiry, request.interval)


def approval_hash(ctx: AppContext, approval: str) -> str:
    return hash_handle(ctx.secrets.handle_key, f"ciba-approval:{approval}")


def approval_url(ctx: AppContext, approval: str) -> str:
    query = urlencode({"token": approval, "ui_locales": "no"})
    return f"{ctx.settings.issuer}{APPROVAL_PATH}?{query}"


def _notify(
    ctx: AppContext,
    client: Client,
    checked: _Checked,
    approval: str,
    request: CibaRequest,
    budget: list[throttle.ThrottleKey],
) -> None:
    body = ciba_approval_text(client, checked.binding_message, approval_url(ctx, approval))
    try:
        now = ctx.clock.now()
        ctx.sender.send(Message(checked.phone, "sms", body, now, purpose=SmsPurpose.CIBA))
    except Exception as error:  # any sender's failure: the request must not stay behind
        with ctx.store.transaction() as uow:
            uow.ciba.delete(request.auth_req_id_hash)
            throttle.succeeded(uow, budget)  # no SMS went out: the budget is given back
        log.warning("ciba_sms_failed", client_id=client.client_id, error=type(error).__name__)
        raise TemporarilyUnavailable("the user could not be notified; try again later") from None


def _check(ctx: AppContext, client: Client, params: Params) -> _Checked:
    if not client.ciba_enabled or GRANT_CIBA not in client.grant_types:
        raise UnauthorizedClient("this client may not use CIBA")
    params.require_single()
    scopes = _scopes(ctx, client, params)
    for unsupported in ("id_token_hint", "user_code", "request"):
        if params.get(unsupported) is not None:
            raise InvalidRequest(f"{unsupported} is not supported")
    hint, hint_token = params.get("login_hint"), params.get("login_hint_token")
    if (hint is None) == (hint_token is None):
        raise InvalidRequest("give exactly one of login_hint and login_hint_token")
    binding = _binding_message(params.get("binding_message"))
    if hint_token is not None:
        hinted = read_hint_token(ctx, client, hint_token)
        if binding is not None and hinted.binding_message not in (None, binding):
            raise InvalidBindingMessage("binding_message is not the one prepared with the hint")
        user, binding = hinted.user, binding or hinted.binding_message
    else:
        assert hint is not None
        user = _user_of_phone(ctx, hint)
    phone = user.phone_number or (user.username if user.username.startswith("+") else None)
    if phone is None:
        raise UnknownUser("the user has no phone number to approve on")
    return _Checked(
        user=user,
        phone=phone,
        flow=next(s for s in scopes if s in FLOWS),
        scopes=scopes,
        binding_message=binding,
        expiry=_expiry(params.get("requested_expiry")),
        notification_token=_notification_token(client, params.get("client_notification_token")),
    )


def _scopes(ctx: AppContext, client: Client, params: Params) -> tuple[str, ...]:
    requested = split_space_list(params.get("scope"))
    flows = [s for s in requested if s in FLOWS]
    if "openid" not in requested or len(flows) != 1:
        raise InvalidScope(f"scope must hold openid and one of {', '.join(FLOWS)}")
    if flows[0] == "bankid" and not ctx.providers.for_client(client, BANKID_LEVEL):
        raise InvalidScope("none of this client's login methods reaches the bankid level")
    return validate_requested_scopes(requested, client)


def _binding_message(value: str | None) -> str | None:
    if value is None:
        return None
    if not _BINDING_MESSAGE.fullmatch(value):
        raise InvalidBindingMessage(
            f"binding_message must be 1-{BINDING_MESSAGE_MAX} letters, digits, spaces, # or -"
        )
    return value


def _expiry(value: str | None) -> int:
    if value is None:
        return MAX_EXPIRY
    if not _DIGITS.fullmatch(value) or not 1 <= int(value) <= MAX_EXPIRY:
        raise InvalidRequest(f"requested_expiry must be an integer from 1 to {MAX_EXPIRY}")
    return int(value)


def _notification_token(client: Client, value: str | None) -> str | None:
    if client.backchannel_client_notification_endpoint is None:
        return None  # poll mode: a token would never be used
    if value is None:
        raise InvalidRequest("client_notification_token is required in ping mode")
    if (
        not 0 < len(value) <= NOTIFICATION_TOKEN_MAX
        or not value.isascii()
        or not value.isprintable()
    ):
        raise InvalidRequest("client_notification_token must be 1-1024 printable characters")
    return value


def _user_of_phone(ctx: AppContext, hint: str) -> User:
    """The one user with this phone number (as username, else as phone number)."""
    try:
        phone = normalise_phone_number(hint)
    except ValidationError:
        raise UnknownUser("login_hint is not a phone number") from None
    with ctx.store.reading() as uow:
        user = uow.users.find_by_username(phone)
        if user is not None:
            return user
        matches = uow.users.users_with_password_where("phone_number", phone, limit=2)
    if len(matches) != 1:
        raise UnknownUser("no single user has this phone number")
    return matches[0]


def _ping_payload(ctx: AppContext, auth_req_id: str, token: str | None) -> str | None:
    """What the ping needs later, sealed like provider secrets: the auth_req_id is otherwise
    stored only as an HMAC."""
    if token is None:
        return None
    document = json.dumps({"auth_req_id": auth_req_id, "client_notification_token": token})
    return seal_secret(document, ctx.settings.key_encryption_key_value)
