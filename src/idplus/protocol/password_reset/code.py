"""The reset's SMS code: checking a guess, and sending a new one.

As at the login (protocol/authenticators/sms_code.py): 6 digits valid 5 minutes, stored as an
HMAC bound to the reset; guesses per reset are counted atomically before they are compared
(`otp_max_attempts`, across new codes), and a wrong guess is committed before it is refused.
Since a reset can always be started again, wrong guesses are also counted per name across
all its resets (`password_reset_code_failures_per_day`, known names and names of nobody
alike); a right code gives its attempt back. New codes are limited per reset
(1 + `otp_max_resends`, `otp_resend_interval_seconds` apart) and per phone number. A reset
holds no code while none could be sent, and a reset of nobody never does.

A right code on an account that requires two factors sends the one-time e-mail link, in the
same unit of work.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode

from idplus.auth import local, throttle
from idplus.auth.throttle import Throttled, ThrottleKey, ThrottleRule
from idplus.config import Settings
from idplus.models import User
from idplus.protocol.context import AppContext
from idplus.protocol.password_reset.messages import send_reset_link
from idplus.protocol.password_reset.start import code_recipient, send_code
from idplus.protocol.password_reset.state import (
    EMAIL_LINK_LIFETIME,
    EMAIL_LINK_PATH,
    STEP_LIFETIME,
    ResetGone,
    ResetProblem,
    ResetProblemReason,
    ResetStage,
    ResetView,
    email_token_hash,
)
from idplus.store.base import UnitOfWork


def code_budget_keys(settings: Settings, names: str) -> list[ThrottleKey]:
    """Wrong codes of one name (its HMAC) in a day: a reset's own limit restarts with every
    new reset, this one does not. A day is the longest window the throttle table keeps
    (store/sql/prune.py)."""
    rule = ThrottleRule(
        "reset-code:", settings.password_reset_code_failures_per_day, timedelta(days=1)
    )
    return [throttle.key_of(rule, names)]


def verify_code(ctx: AppContext, view: ResetView, code: str) -> None:
    """Returns when the code is right; raises ResetProblem only after the guess is committed."""
    if view.stage is not ResetStage.CODE:
        raise ResetProblem(ResetProblemReason.UNKNOWN_ACTION)
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        problem = _guess(uow, ctx, view, code, now)
        if problem is None and view.user is not None:
            _proved_phone(uow, ctx, view, view.user, now)
    if problem is not None:
        raise problem


def _guess(
    uow: UnitOfWork, ctx: AppContext, view: ResetView, code: str, now: datetime
) -> ResetProblem | None:
    """None when the code is right. An expired code costs no guess; any other guess is
    counted (atomically) against the reset and against the name before it is compared."""
    reset = view.reset
    if reset.code_expires_at is None or reset.code_expires_at <= now:
        return ResetProblem(ResetProblemReason.CODE_EXPIRED)
    if not uow.password_resets.reserve_code_attempt(reset.id, ctx.settings.otp_max_attempts):
        return ResetProblem(ResetProblemReason.CODE_TOO_MANY)
    budget = code_budget_keys(ctx.settings, reset.name_hash)
    try:
        throttle.reserve(uow, budget, now)
    except Throttled:
        return ResetProblem(ResetProblemReason.CODES_SPENT)
    # Read the code after the reservations: a new one may have replaced it since the page loaded.
    current = uow.password_resets.find_by_handle(reset.handle_hash)
    if current is None:
        raise ResetGone("finished meanwhile")
    presented = local.hash_otp(ctx.secrets.handle_key, reset.id, code.strip())
    # A reset of nobody, or one whose code could not be sent, holds no code: nothing is right.
    if current.code_hash is None or not hmac.compare_digest(presented, current.code_hash):
        return ResetProblem(ResetProblemReason.CODE_INVALID)
    throttle.succeeded(uow, budget)
    return None


def _proved_phone(
    uow: UnitOfWork, ctx: AppContext, view: ResetView, user: User, now: datetime
) -> None:
    uow.password_resets.mark_code_verified(view.reset.id, now=now, expires_at=now + STEP_LIFETIME)
    if not user.otp_required or not user.email:
        return
    token = ctx.random.handle(32)
    expires_at = now + EMAIL_LINK_LIFETIME
    token_hash = email_token_hash(ctx.secrets.handle_key, token)
    # Once per reset: a parallel right guess sends no second link.
    if uow.password_resets.record_email_sent(
        view.reset.id, token_hash=token_hash, expires_at=expires_at
    ):
        link = f"{ctx.settings.issuer}{EMAIL_LINK_PATH}?{urlencode({'token': token})}"
        send_reset_link(ctx.sender, user.email, link, view.reset.locale, now)


def resend_code(ctx: AppContext, view: ResetView) -> None:
    """A new code replaces the old one, within the reset's and the phone number's limits.
    A refusal rolls back the SMS budget reserved for it."""
    if view.stage is not ResetStage.CODE:
        raise ResetProblem(ResetProblemReason.UNKNOWN_ACTION)
    settings, reset = ctx.settings, view.reset
    now, code = ctx.clock.now(), local.new_otp(random=ctx.random)
    with ctx.store.transaction() as uow:
        phone = code_recipient(ctx, uow, view.user, reset.name_hash, now)
        code_hash = local.hash_otp(ctx.secrets.handle_key, reset.id, code) if phone else None
        sent = uow.password_resets.record_code_sent(
            reset.id,
            code_hash=code_hash,
            expires_at=now + local.OTP_LIFETIME,
            max_sends=1 + settings.otp_max_resends,
            not_sent_since=now - timedelta(seconds=settings.otp_resend_interval_seconds),
            now=now,
        )
        if not sent:
            current = uow.password_resets.find_by_handle(reset.handle_hash)
            if current is None:
                raise ResetGone("finished while a code was being sent")
            exhausted = current.code_sends > settings.otp_max_resends
            raise ResetProblem(
                ResetProblemReason.RESEND_LIMIT if exhausted else ResetProblemReason.RESEND_WAIT
            )
        # Read for a reset of nobody too: the same statements, the same time.
        client = uow.clients.find(reset.client_id) if reset.client_id else None
        if phone is not None:
            send_code(ctx, phone, code, reset.locale, now, client)
