"""The reset's SMS code: checking a guess, and sending a new one.

As at the login (protocol/authenticators/sms_code.py): 6 digits valid 5 minutes, stored as an
HMAC bound to the reset; guesses per reset are counted atomically before they are compared
(`otp_max_attempts`, across new codes), and a wrong guess is committed before it is refused.
New codes are limited per reset (1 + `otp_max_resends`, `otp_resend_interval_seconds` apart)
and per phone number. A reset of nobody behaves the same and is never right.

A right code on an account that requires two factors sends the one-time e-mail link, in the
same unit of work.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode

from idplus.auth import local
from idplus.models import User
from idplus.protocol.context import AppContext
from idplus.protocol.password_reset.messages import send_reset_link
from idplus.protocol.password_reset.start import send_code
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
        raise ResetProblem(problem)


def _guess(
    uow: UnitOfWork, ctx: AppContext, view: ResetView, code: str, now: datetime
) -> ResetProblemReason | None:
    """None when the code is right. An expired code costs no guess; any other guess is
    counted (atomically) before it is compared."""
    reset = view.reset
    if reset.code_expires_at is None or reset.code_expires_at <= now:
        return ResetProblemReason.CODE_EXPIRED
    if not uow.password_resets.reserve_code_attempt(reset.id, ctx.settings.otp_max_attempts):
        return ResetProblemReason.CODE_TOO_MANY
    # Read the code after the reservation: a new one may have replaced it since the page loaded.
    current = uow.password_resets.find_by_handle(reset.handle_hash)
    if current is None or current.code_hash is None:
        raise ResetGone("finished meanwhile")
    presented = local.hash_otp(ctx.secrets.handle_key, reset.id, code.strip())
    right = hmac.compare_digest(presented, current.code_hash)
    # Nobody's reset holds a code that was never sent; even a lucky guess proves nothing.
    return None if right and view.user is not None else ResetProblemReason.CODE_INVALID


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
    """A new code replaces the old one, within the reset's and the phone number's limits."""
    if view.stage is not ResetStage.CODE:
        raise ResetProblem(ResetProblemReason.UNKNOWN_ACTION)
    settings, reset = ctx.settings, view.reset
    now, code = ctx.clock.now(), local.new_otp(random=ctx.random)
    with ctx.store.transaction() as uow:
        sent = uow.password_resets.record_code_sent(
            reset.id,
            code_hash=local.hash_otp(ctx.secrets.handle_key, reset.id, code),
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
        if view.user is not None:
            send_code(ctx, uow, view.user, code, reset.locale, now)
