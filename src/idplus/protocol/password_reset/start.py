"""Starting a password reset: throttled per name and per client address like a password
login (auth/throttle.py), then a reset row and, for an account that can be reset, the first
SMS code.

A name that belongs to no account that can be reset (unknown, no password, no phone number)
gets a reset too, without a code: the same statements (its SMS budget is kept under the
name), the same page, the same limits. Only the SMS itself is not sent.

A reset started from a login in progress keeps only an HMAC of the login's handle: the
browser keeps the handle and brings it back at the end, where the login's own loader checks
it again (`login_of_reset`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from idplus.auth import local, throttle
from idplus.auth.throttle import Throttled, ThrottleKey, ThrottleRule
from idplus.config import Settings
from idplus.logs import get_logger
from idplus.models import Client, PasswordReset, User
from idplus.protocol.context import AppContext
from idplus.protocol.login.state import InteractionGone, InteractionView, load_interaction
from idplus.protocol.password_reset.messages import send_reset_code
from idplus.protocol.password_reset.state import (
    STEP_LIFETIME,
    ResetProblem,
    ResetProblemReason,
    ResetView,
    browser_hash,
    login_hash,
    name_hash,
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


def login_of_reset(ctx: AppContext, view: ResetView, handle: str) -> InteractionView | None:
    """The login in progress the reset started from, when the browser brings its handle
    back: it must be the one the reset was started from, and still this browser's."""
    expected = view.reset.interaction_hash
    if not handle or expected is None:
        return None
    if not hmac.compare_digest(login_hash(ctx.secrets.handle_key, handle), expected):
        return None
    return login_in_progress(ctx, handle, view.browser_id)


@dataclass(frozen=True, slots=True)
class ResetStarted:
    handle: str
    # The language of its pages and messages: the login's, when it started from one.
    locale: str
    # The handle of the login in progress it started from, for the browser to keep.
    login: str | None = None


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
        names = name_hash(key, name)
        phone = code_recipient(ctx, uow, user, names, now)
        uow.password_resets.insert(
            PasswordReset(
                id=reset_id,
                handle_hash=reset_handle_hash(key, handle),
                browser_hash=browser_hash(key, browser_id),
                user_id=user.id if user is not None else None,
                name_hash=names,
                locale=locale,
                created_at=now,
                expires_at=now + STEP_LIFETIME,
                interaction_hash=login_hash(key, interaction) if login is not None else None,
                client_id=login.client.client_id if login is not None else None,
                code_hash=local.hash_otp(key, reset_id, code) if phone is not None else None,
                code_expires_at=now + local.OTP_LIFETIME,
                code_sends=1,
                code_sent_at=now,
            )
        )
        if phone is not None:
            send_code(ctx, phone, code, locale, now, login.client if login is not None else None)
    return ResetStarted(handle, locale, interaction if login is not None else None)


def _resettable(user: User | None) -> User | None:
    """Only a password can be reset, and only with a code sent to the account's phone."""
    if user is None or not user.has_password or not user.phone_number:
        return None
    return user


def code_recipient(
    ctx: AppContext, uow: UnitOfWork, user: User | None, names: str, now: datetime
) -> str | None:
    """The phone number a new code goes to, within its budget; None for a name of nobody and
    when the budget is spent, and then the reset holds no code at all. A name of nobody
    spends a budget of its own (`names`, its HMAC), so both do the same database work; a
    spent budget says nothing, since the page must not tell an account from no account."""
    phone = user.phone_number if user is not None else None
    try:
        throttle.reserve(uow, [throttle.key_of(reset_sms_rule(ctx.settings), phone or names)], now)
    except Throttled:
        log.warning("password_reset_sms_budget_spent", user_id=user.id if user else None)
        return None
    return phone


def send_code(
    ctx: AppContext, phone: str, code: str, locale: str, now: datetime, client: Client | None
) -> None:
    """`client`: the app of the login the reset started from, which the SMS names."""
    send_reset_code(ctx.sender, phone, code, locale, now, ctx.settings.issuer, client=client)
