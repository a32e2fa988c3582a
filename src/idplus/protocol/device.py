"""Device authorization (RFC 8628 §3.1-3.3) and the verification page's decisions.

User codes are nine digits, shown grouped as 123-456-789 and accepted with or without
separators. Wrong guesses on the verification page are throttled per client address.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

from idplus.auth import throttle
from idplus.crypto.hashing import hash_handle
from idplus.errors import UnauthorizedClient
from idplus.logs import get_logger
from idplus.models import AuditEvent, Client, DeviceRequest, SsoSession
from idplus.policies import GRANT_DEVICE_CODE
from idplus.protocol.account_lock import ACCOUNT_LOCKED, is_locked
from idplus.protocol.context import AppContext
from idplus.protocol.params import Params, split_space_list
from idplus.protocol.scopes import validate_requested_scopes
from idplus.randomness import Randomness
from idplus.store.base import UnitOfWork

DEVICE_CODE_LIFETIME = timedelta(seconds=1800)
POLL_INTERVAL = 5
SLOW_DOWN_STEP = 5
VERIFICATION_PATH = "/device"
USER_CODE_DIGITS = 9

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceAuthorization:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int

    def to_json(self) -> dict[str, object]:
        return {
            "device_code": self.device_code,
            "user_code": self.user_code,
            "verification_uri": self.verification_uri,
            "verification_uri_complete": self.verification_uri_complete,
            "expires_in": self.expires_in,
            "interval": self.interval,
        }


def display_user_code(digits: str) -> str:
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def normalise_user_code(raw: str) -> str | None:
    digits = re.sub(r"[\s\-.]", "", raw)
    return digits if re.fullmatch(rf"\d{{{USER_CODE_DIGITS}}}", digits) else None


def user_code_returned_to(return_to: str | None) -> str | None:
    """The user code of a login that the device verification page started (its return path),
    so the login page can offer the code's QR to a TV's browser."""
    if not return_to:
        return None
    target = urlsplit(return_to)
    if target.scheme or target.netloc or target.path != VERIFICATION_PATH:
        return None
    codes = parse_qs(target.query).get("user_code", [])
    return normalise_user_code(codes[0]) if codes else None


def verification_uri_complete(issuer: str, user_code: str) -> str:
    return f"{issuer}{VERIFICATION_PATH}?{urlencode({'user_code': display_user_code(user_code)})}"


def start_device_authorization(
    ctx: AppContext, client: Client, params: Params
) -> DeviceAuthorization:
    if GRANT_DEVICE_CODE not in client.grant_types:
        raise UnauthorizedClient("this client may not use the device flow")
    requested = split_space_list(params.get("scope")) or ("openid",)
    scopes = validate_requested_scopes(requested, client)
    now = ctx.clock.now()
    device_code = ctx.random.handle(32)
    with ctx.store.transaction() as uow:
        user_code = _unused_user_code(uow.devices.user_code_taken, random=ctx.random)
        uow.devices.insert(
            DeviceRequest(
                device_code_hash=hash_handle(ctx.secrets.handle_key, device_code),
                user_code=user_code,
                client_id=client.client_id,
                scopes=scopes,
                status="pending",
                interval=POLL_INTERVAL,
                created_at=now,
                expires_at=now + DEVICE_CODE_LIFETIME,
            ),
        )
    issuer = ctx.settings.issuer
    return DeviceAuthorization(
        device_code=device_code,
        user_code=display_user_code(user_code),
        verification_uri=issuer + VERIFICATION_PATH,
        verification_uri_complete=verification_uri_complete(issuer, user_code),
        expires_in=int(DEVICE_CODE_LIFETIME.total_seconds()),
        interval=POLL_INTERVAL,
    )


def _unused_user_code(taken: Callable[[str], bool], *, random: Randomness) -> str:
    for _ in range(20):
        code = random.digits(USER_CODE_DIGITS)
        if not taken(code):
            return code
    raise RuntimeError("no free user code after 20 tries")


class UnknownUserCode(Exception):
    def __init__(self, retry_after_minutes: int = 0) -> None:
        super().__init__("unknown user code")
        self.retry_after_minutes = retry_after_minutes


@dataclass(frozen=True, slots=True)
class PendingDevice:
    request: DeviceRequest
    client: Client


def find_pending_device(ctx: AppContext, raw_code: str, address: str | None) -> PendingDevice:
    """The pending request for a typed user code; every guess is counted before it is looked up,
    and only a right one is given back."""
    now = ctx.clock.now()
    keys = [throttle.key_of(throttle.DEVICE_CODE_RULE, throttle.address_bucket(address or "?"))]
    with ctx.store.transaction() as uow:
        try:
            throttle.reserve(uow, keys, now)
        except throttle.Throttled as throttled:
            raise UnknownUserCode(retry_after_minutes=throttled.minutes_left(now)) from None
        code = normalise_user_code(raw_code)
        request = uow.devices.find_by_user_code(code) if code else None
        client = uow.clients.find(request.client_id) if request else None
        if request is None or client is None or not _pending(request, now):
            found = None
        else:
            throttle.succeeded(uow, keys)
            found = PendingDevice(request, client)
    if found is None:
        raise UnknownUserCode()
    return found


def _pending(request: DeviceRequest, now: datetime) -> bool:
    return request.status == "pending" and request.expires_at > now


def _locked_user(uow: UnitOfWork, session: SsoSession) -> bool:
    """A locked user approves nothing (account_lock.py); their denial still counts."""
    user = uow.users.find(session.user_id)
    if user is not None and is_locked(user):
        log.info("device_refused", reason=ACCOUNT_LOCKED, user_id=user.id)
        return True
    return False


def decide_device(ctx: AppContext, user_code: str, session: SsoSession, *, approve: bool) -> bool:
    """Approve (binding the user's session) or deny; False if it was no longer pending, or
    the user may not approve (locked)."""
    values: dict[str, object] = {"status": "approved" if approve else "denied"}
    if approve:
        values.update(
            user_id=session.user_id,
            session_id=session.id,
            auth_time=session.auth_time,
            acr=session.acr,
            amr=list(session.amr),
            idp=session.idp,
        )
    with ctx.store.transaction() as uow:
        if approve and _locked_user(uow, session):
            return False
        decided = uow.devices.decide(user_code, values)
        request = uow.devices.find_by_user_code(user_code) if decided else None
        if request is not None:
            # Never the user code or device code: the client, the user and what they allowed.
            uow.audit.record(
                AuditEvent(
                    "device.approved" if approve else "device.denied",
                    ctx.clock.now(),
                    client_id=request.client_id,
                    user_id=session.user_id,
                    detail={"scope": " ".join(request.scopes)},
                )
            )
    if decided:
        ctx.identity_metrics.device_decided(approved=approve)
    return decided
