"""Starting a password reset: throttled per name and per client address like a password
login (auth/throttle.py), then a reset row and, for an account that can be reset, the first
SMS code.

A name that belongs to no account that can be reset (unknown, no password, no phone number)
gets a reset too, with the code of nobody: the same statements, the same page, the same limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from idplus.auth import local, throttle
from idplus.auth.throttle import Throttled, ThrottleKey, ThrottleRule
from idplus.config import Settings
from idplus.crypto.secrets import seal_secret
from idplus.logs import get_logger
from idplus.models import PasswordReset, User
from idplus.protocol.context import AppContext
from idplus.protocol.login.state import InteractionGone, InteractionView, load_interaction
from idplus.protocol.password_reset.messages import send_reset_code
from idplus.protocol.password_reset.state import (
    STEP_LIFETIME,
    ResetProblem,
    ResetProblemReason,
    browser_hash,
    reset_handle_hash,
)
from idplus.store.base import UnitOfWork

log = get_logger(__name__)


def reset_keys(settings: Settings, username: str, address: str | None) -> list[ThrottleKey]:
    """The login's budgets (per name, per address bucket) under their own keys: asking for
    resets does not lock anyone's password login, nor the other way round."""
    window = timedelta(seconds=settings.login_lock_seconds)
    per_name = ThrottleRule("reset-username:", settings.login_failures_per_username, window)
    keys = [throttle.key_of(per_name, username)]
    if address:
        per_address = ThrottleRule("reset-ip:", settings.login_failures_per_address, window)
        keys.append(throttle.key_of(per_address, throttle.address_bucket(address)))
    return keys


def reset_sms_rule(settings: Settings) -> ThrottleRule:
    """Reset codes per phone number: SMS pumping costs money. Its own budget, so asking for
    resets cannot use up the codes the owner needs to log in."""
    return ThrottleRule("sms-reset:", settings.login_sms_per_phone_per_hour, timedelta(hours=1))


def login_in_progress(ctx: AppContext, handle: str, browser_id: str) -> InteractionView | None:
    """The login this browser has in progress under `handle`, if any."""
    if not handle:
        return None
    try:
        return load_interaction(ctx, handle, browser_id)
    except InteractionGone:
        return None


@dataclass(frozen=True, slots=True)
class ResetStarted:
    handle: str
    # The language of its pages and messages: the login's, when it started from one.
    locale: str


def start_reset(
    ctx: AppContext,
    *,
    username: str,
    browser_id: str,
    address: str | None,
    locale: str,
    interaction: str = "",
) -> ResetStarted:
    """Raises ResetProblem when no name was given or the name or the address has used up
    its attempts (known and unknown names alike)."""
    name = local.canonical_username(username)
    if not name:
        raise ResetProblem(ResetProblemReason.NO_USERNAME)
    login = login_in_progress(ctx, interaction, browser_id)
    if login is not None:
        locale = login.interaction.request.ui_locale
    sealed = seal_secret(interaction, ctx.settings.key_encryption_key_value) if login else None
    key, now = ctx.secrets.handle_key, ctx.clock.now()
    handle, reset_id, code = (
        ctx.random.handle(32),
        ctx.random.handle(24),
        local.new_otp(random=ctx.random),
    )
    with ctx.store.transaction() as uow:
        try:
            throttle.reserve(uow, reset_keys(ctx.settings, name, address), now)
        except Throttled as throttled:
            minutes = throttled.minutes_left(now)
            raise ResetProblem(ResetProblemReason.LOCKED, retry_after_minutes=minutes) from None
        user = _resettable(uow.users.find_by_username(name))
        uow.password_resets.insert(
            PasswordReset(
                id=reset_id,
                handle_hash=reset_handle_hash(key, handle),
                browser_hash=browser_hash(key, browser_id),
                user_id=user.id if user is not None else None,
                locale=locale,
                created_at=now,
                expires_at=now + STEP_LIFETIME,
                interaction_sealed=sealed,
                code_hash=local.hash_otp(key, reset_id, code),
                code_expires_at=now + local.OTP_LIFETIME,
                code_sends=1,
                code_sent_at=now,
            )
        )
        if user is not None:
            send_code(ctx, uow, user, code, locale, now)
    return ResetStarted(handle, locale)


def _resettable(user: User | None) -> User | None:
    """Only a password can be reset, and only with a code sent to the account's phone."""
    if user is None or not user.has_password or not user.phone_number:
        return None
    return user


def send_code(
    ctx: AppContext, uow: UnitOfWork, user: User, code: str, locale: str, now: datetime
) -> None:
    """Within the phone number's budget. A spent budget sends nothing and says nothing: the
    page must not tell an account with a phone number from no account."""
    assert user.phone_number is not None
    try:
        throttle.reserve(
            uow, [throttle.key_of(reset_sms_rule(ctx.settings), user.phone_number)], now
        )
    except Throttled:
        log.warning("password_reset_sms_budget_spent", user_id=user.id)
        return
    send_reset_code(ctx.sender, user.phone_number, code, locale, now, ctx.settings.issuer)
