"""The one-time code sent by SMS: sending it within its budgets, and checking a guess.

Sending is limited per login (1 + `otp_max_resends` codes, `otp_resend_interval_seconds`
apart: one conditional UPDATE) and per phone number (`login_sms_per_phone_per_hour`: SMS
pumping costs money), both counted before the SMS goes out. Guessing is limited per login
(`otp_max_attempts` across resends): each guess is counted atomically before it is compared,
and compared in constant time. The code is stored only as an HMAC bound to the login.
"""

from __future__ import annotations

import hmac
from dataclasses import replace
from datetime import datetime, timedelta

from idplus.auth import local, throttle
from idplus.auth.throttle import Throttled
from idplus.models import Interaction, User
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Stage
from idplus.protocol.login.results import LoginProblem, ProblemReason
from idplus.protocol.login.state import InteractionGone, InteractionView, save_progress
from idplus.store.base import UnitOfWork


def send_code(ctx: AppContext, view: InteractionView, user: User) -> InteractionView:
    """Send a (new) code to the user's phone; the login moves to the code stage.

    A LoginProblem rolls the transaction back: nothing is counted, nothing sent.
    """
    if user.phone_number is None:
        raise LoginProblem(ProblemReason.NO_PHONE)
    now, code = ctx.clock.now(), local.new_otp(random=ctx.random)
    with ctx.store.transaction() as uow:
        _record_code(uow, ctx, view.interaction, code, now)
        try:
            rule = throttle.login_sms_rule(ctx.settings)
            throttle.reserve(uow, [throttle.key_of(rule, user.phone_number)], now)
        except Throttled:
            raise LoginProblem(ProblemReason.SMS_LIMIT) from None
        at_code = replace(view.interaction, stage=Stage.OTP.value, user_id=user.id)
        moved = save_progress(uow, view, at_code, user)
        locale = view.interaction.request.ui_locale
        local.send_otp(
            ctx.sender,
            user.phone_number,
            code,
            locale,
            now,
            client=view.client,
            issuer=ctx.settings.issuer,
        )
    return moved


def _record_code(
    uow: UnitOfWork, ctx: AppContext, interaction: Interaction, code: str, now: datetime
) -> None:
    settings = ctx.settings
    sent = uow.interactions.record_otp_sent(
        interaction.id_hash,
        otp_hash=local.hash_otp(ctx.secrets.handle_key, interaction.id_hash, code),
        expires_at=now + local.OTP_LIFETIME,
        max_sends=1 + settings.otp_max_resends,
        not_sent_since=now - timedelta(seconds=settings.otp_resend_interval_seconds),
        now=now,
    )
    if not sent:
        current = uow.interactions.find(interaction.id_hash)
        if current is None:
            raise InteractionGone("finished while a code was being sent")
        exhausted = current.otp_sends > settings.otp_max_resends
        raise LoginProblem(
            ProblemReason.OTP_RESEND_LIMIT if exhausted else ProblemReason.OTP_RESEND_WAIT
        )


def check_code(ctx: AppContext, view: InteractionView, code: str) -> None:
    """Returns when the code is right; raises LoginProblem only after the guess is committed."""
    with ctx.store.transaction() as uow:
        problem = _guess(uow, ctx, view.interaction, code, ctx.clock.now())
    if problem is not None:
        raise LoginProblem(problem)


def _guess(
    uow: UnitOfWork, ctx: AppContext, interaction: Interaction, code: str, now: datetime
) -> ProblemReason | None:
    """None when the code is right. An expired code costs no guess; any other guess is counted
    (atomically) before it is compared."""
    if interaction.otp_expires_at is None or interaction.otp_expires_at <= now:
        return ProblemReason.OTP_EXPIRED
    id_hash = interaction.id_hash
    if not uow.interactions.reserve_otp_attempt(id_hash, ctx.settings.otp_max_attempts):
        return ProblemReason.OTP_TOO_MANY
    # Read the code after the reservation: a resend may have replaced it since the page loaded.
    current = uow.interactions.find(id_hash)
    if current is None or current.otp_hash is None:
        raise InteractionGone("finished meanwhile")
    presented = local.hash_otp(ctx.secrets.handle_key, id_hash, code.strip())
    return None if hmac.compare_digest(presented, current.otp_hash) else ProblemReason.OTP_INVALID
