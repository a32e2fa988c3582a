"""The local authenticator: username + password, then a one-time SMS code when the user must
always give one or the request asks for level 2 (SPEC §6). A step-up asks for the code alone.

amr: `td_pwd`, plus `td_otp` after the code; acr: `aal.1` for one factor, `aal.2` for two.
The password check runs outside any write transaction (`password_check`).
"""

from __future__ import annotations

from dataclasses import replace

from idplus.auth import local
from idplus.auth.throttle import Throttled
from idplus.models import User
from idplus.protocol.account_lock import is_locked
from idplus.protocol.assurance import AMR_PASSWORD, AMR_SMS_OTP, acr_for_level, level_of_amr
from idplus.protocol.authenticators import sms_code
from idplus.protocol.authenticators.base import Authenticated
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Stage
from idplus.protocol.login.results import LoginProblem, ProblemReason
from idplus.protocol.login.state import Inputs, InteractionGone, InteractionView, save_progress
from idplus.protocol.password_check import WrongPassword, check_password

# The level password + SMS code reach (SPEC §6: two factors).
SMS_LEVEL = 2


class LocalAuthenticator:
    def start(self, ctx: AppContext, view: InteractionView) -> InteractionView:
        """The password form."""
        at_password = replace(view.interaction, stage=Stage.LOGIN.value)
        with ctx.store.transaction() as uow:
            return save_progress(uow, view, at_password, view.user)

    def complete(
        self, ctx: AppContext, view: InteractionView, inputs: Inputs
    ) -> InteractionView | Authenticated:
        if view.stage is Stage.LOGIN:
            return self._password(ctx, view, inputs)
        if view.stage is Stage.OTP:
            return self._code(ctx, view, inputs)
        raise LoginProblem(ProblemReason.UNKNOWN_ACTION)

    def step_up(self, ctx: AppContext, view: InteractionView) -> InteractionView:
        """The session's user gives the code on top of what the session holds."""
        _sms_can_reach(view)
        return sms_code.send_code(ctx, view, _known_user(view))

    def resend(self, ctx: AppContext, view: InteractionView) -> InteractionView:
        if view.stage is not Stage.OTP:
            raise LoginProblem(ProblemReason.UNKNOWN_ACTION)
        return sms_code.send_code(ctx, view, _known_user(view))

    def _password(
        self, ctx: AppContext, view: InteractionView, inputs: Inputs
    ) -> InteractionView | Authenticated:
        """Raises HashingBusy when every hashing slot is taken (nothing spent then)."""
        username = local.canonical_username(inputs.get("username"))
        try:
            user = check_password(ctx, username, inputs.get("password"), inputs.address)
        except WrongPassword:
            raise LoginProblem(ProblemReason.INVALID_CREDENTIALS) from None
        except Throttled as throttled:
            minutes = throttled.minutes_left(ctx.clock.now())
            raise LoginProblem(ProblemReason.LOCKED, retry_after_minutes=minutes) from None
        # Told only to whoever knows the password, and before any SMS is sent.
        _refuse_locked(user)
        amr, remember_me = (AMR_PASSWORD,), inputs.get("remember_me") == "on"
        if user.otp_required or level_of_amr(amr) < view.interaction.request.requested_aal:
            _sms_can_reach(view)
            known = replace(view.interaction, remember_me=remember_me, amr=amr)
            return sms_code.send_code(ctx, replace(view, interaction=known), user)
        return Authenticated(user, amr, _acr(amr), remember_me)

    def _code(self, ctx: AppContext, view: InteractionView, inputs: Inputs) -> Authenticated:
        sms_code.check_code(ctx, view, inputs.get("otp"))
        amr = tuple(dict.fromkeys((*view.interaction.amr, AMR_SMS_OTP)))
        return Authenticated(_known_user(view), amr, _acr(amr), view.interaction.remember_me)


def _sms_can_reach(view: InteractionView) -> None:
    """Password and SMS code make level 2; a request for more needs a passkey that reaches it
    (the page offers one), so no code is sent for nothing."""
    if view.interaction.request.requested_aal > SMS_LEVEL:
        raise LoginProblem(ProblemReason.PASSKEY_REQUIRED)


def _known_user(view: InteractionView) -> User:
    """The login's user (read afresh with each step): one locked meanwhile goes no further."""
    if view.user is None:
        raise InteractionGone("no user at this stage")
    _refuse_locked(view.user)
    return view.user


def _refuse_locked(user: User) -> None:
    if is_locked(user):
        raise LoginProblem(ProblemReason.ACCOUNT_LOCKED)


def _acr(amr: tuple[str, ...]) -> str:
    return acr_for_level(level_of_amr(amr))
