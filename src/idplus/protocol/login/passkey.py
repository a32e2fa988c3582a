"""Passkeys in the login state machine: the options and the verify the login pages' script
calls, and the end of a login a passkey proved.

A passkey is offered where the local provider asks the user: the password form (any user's
discoverable passkey, the browser's button or autofill), and instead of the SMS code (the
code form after the password, or a session's step-up: then only that user's passkeys). The
verify does not finish the login itself: it stores the proof on the login in progress (stage
PASSKEY_VERIFIED, with the user, amr and passkey), and the browser's next GET /login finishes
it like any other login (session, cookies, the client's response in its response mode). So
the script needs only a redirect, and the response mode stays the server's business. That
GET holds the passkey's row while it opens the session: a removal in parallel either ends
the new session or leaves the login gone.

Each verify spends one attempt of the client address's login budget (the one wrong
passwords spend, auth/throttle.py), reserved before any passkey is looked at and given back
when the passkey proves the login: refused assertions cannot be tried without limit. The
username's password lock is left alone: an account locked by wrong passwords may still log
in with its passkey, which a password guesser does not hold.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from idplus.auth import throttle
from idplus.auth.providers import LOCAL_PROVIDER_ID
from idplus.metrics import LoginMethod
from idplus.models import User
from idplus.policies import level_of_acr
from idplus.protocol.account_lock import ACCOUNT_LOCKED, is_locked
from idplus.protocol.authenticators.base import Authenticated
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Stage
from idplus.protocol.login.audit import record_login_failed
from idplus.protocol.login.finish import finish_login
from idplus.protocol.login.results import LoginFinished
from idplus.protocol.login.state import (
    InteractionGone,
    InteractionView,
    load_interaction,
    save_progress,
)
from idplus.protocol.passkeys.assertion import VerifiedPasskey, login_options, verify_passkey_login
from idplus.protocol.passkeys.errors import PasskeyProblem, PasskeyProblemReason
from idplus.protocol.passkeys.responses import CredentialJson

# The pages a passkey can stand in for: the password form, and the SMS code (after the
# password, or a session's step-up).
PASSKEY_STAGES = frozenset({Stage.LOGIN, Stage.OTP, Stage.STEP_UP})
# There the login knows its user already: the passkey must be theirs.
_KNOWN_USER_STAGES = frozenset({Stage.OTP, Stage.STEP_UP})
# Why a passkey login is refused before a passkey is even looked at.
LOGIN_GONE = "login_gone"
WRONG_STAGE = "wrong_stage"
# The request asks for more than this passkey gives (aal.3 needs a hardware-attested one).
LEVEL_TOO_LOW = "level_too_low"
# The client address spent its login budget (wrong passwords and refused passkeys).
THROTTLED = "throttled"


class PasskeyLoginRefused(Exception):
    """A refused passkey step. `reason`: a PasskeyProblemReason value, LOGIN_GONE or
    WRONG_STAGE, LEVEL_TOO_LOW, ACCOUNT_LOCKED (account_lock.py) or THROTTLED (with
    `retry_after_minutes`); `detail` for the log
    only; `view` the login when it was found."""

    def __init__(
        self,
        reason: str,
        detail: str,
        view: InteractionView | None = None,
        *,
        retry_after_minutes: int = 0,
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.view = view
        self.retry_after_minutes = retry_after_minutes


def passkey_login_options(ctx: AppContext, handle: str, browser_id: str) -> dict[str, Any]:
    """Request options for the login `handle` of this browser (a new challenge, replacing
    the login's earlier one). Raises PasskeyLoginRefused."""
    view = _passkey_view(ctx, handle, browser_id)
    try:
        return login_options(
            ctx, interaction_id_hash=view.interaction.id_hash, user=_known_user(view)
        )
    except PasskeyProblem as problem:
        raise PasskeyLoginRefused(problem.reason.value, problem.detail, view) from None


def verify_passkey(
    ctx: AppContext,
    handle: str,
    browser_id: str,
    credential: CredentialJson,
    address: str | None = None,
) -> InteractionView:
    """Verify the assertion and keep the proof on the login (stage PASSKEY_VERIFIED): the
    browser's next GET /login finishes it. `address`: the client's, whose login budget each
    verify spends. Raises PasskeyLoginRefused; a refused assertion is a failed login (audit
    `login.failed`, the login counter)."""
    view = _passkey_view(ctx, handle, browser_id)
    budget = _reserve_attempt(ctx, view, address)
    try:
        verified = verify_passkey_login(
            ctx,
            interaction_id_hash=view.interaction.id_hash,
            expected_user=_known_user(view),
            credential=credential,
        )
    except PasskeyProblem as problem:
        _count_refusal(ctx, view, problem.reason.value)
        raise PasskeyLoginRefused(problem.reason.value, problem.detail, view) from None
    if is_locked(verified.user):
        _count_refusal(ctx, view, ACCOUNT_LOCKED)
        raise PasskeyLoginRefused(ACCOUNT_LOCKED, "an operator locked the account", view)
    if level_of_acr(verified.acr) < view.interaction.request.requested_aal:
        _count_refusal(ctx, view, LEVEL_TOO_LOW)
        raise PasskeyLoginRefused(LEVEL_TOO_LOW, f"the passkey gives {verified.acr}", view)
    proved = replace(
        view.interaction,
        stage=Stage.PASSKEY_VERIFIED.value,
        user_id=verified.user.id,
        amr=_amr(view, verified),
        passkey_id=verified.passkey.id,
    )
    with ctx.store.transaction() as uow:
        throttle.succeeded(uow, budget)
        return save_progress(uow, view, proved, verified.user)


def _reserve_attempt(
    ctx: AppContext, view: InteractionView, address: str | None
) -> list[throttle.ThrottleKey]:
    """Spend one attempt of the address's login budget (its own short transaction, so the
    attempt stays spent whatever the verify does); THROTTLED when none is left."""
    if not address:
        return []
    rule = throttle.address_rule(ctx.settings)
    budget = [throttle.key_of(rule, throttle.address_bucket(address))]
    now = ctx.clock.now()
    try:
        with ctx.store.transaction() as uow:
            throttle.reserve(uow, budget, now)
    except throttle.Throttled as throttled:
        minutes = throttled.minutes_left(now)
        raise PasskeyLoginRefused(
            THROTTLED, "the address's login budget is spent", view, retry_after_minutes=minutes
        ) from None
    return budget


def finish_passkey_login(
    ctx: AppContext, view: InteractionView, user_agent: str | None = None
) -> LoginFinished:
    """End a login at PASSKEY_VERIFIED: the session records the passkey. The passkey is read
    again, and finish_login holds its row while it opens the session: one removed since the
    verify finishes nothing (InteractionGone)."""
    with ctx.store.reading() as uow:
        passkey = uow.passkeys.find(view.interaction.passkey_id or "")
    user = view.user
    if passkey is None or user is None or passkey.user_id != user.id:
        raise InteractionGone("the passkey is gone")
    proof = Authenticated(
        user,
        view.interaction.amr,
        VerifiedPasskey(passkey, user).acr,
        view.interaction.remember_me,
        passkey_id=passkey.id,
    )
    return finish_login(ctx, view, proof, user_agent)


def _passkey_view(ctx: AppContext, handle: str, browser_id: str) -> InteractionView:
    """This browser's login, at a page that offers a passkey, with the local provider."""
    try:
        view = load_interaction(ctx, handle, browser_id)
    except InteractionGone as gone:
        raise PasskeyLoginRefused(LOGIN_GONE, str(gone)) from None
    if view.stage not in PASSKEY_STAGES or view.interaction.provider != LOCAL_PROVIDER_ID:
        raise PasskeyLoginRefused(WRONG_STAGE, "no passkey at this page", view)
    return view


def _known_user(view: InteractionView) -> User | None:
    return view.user if view.stage in _KNOWN_USER_STAGES else None


def _amr(view: InteractionView, verified: VerifiedPasskey) -> tuple[str, ...]:
    """A passkey alone at the password form; on top of the password (or the session's
    factors, for a step-up) where it stands in for the SMS code."""
    if view.stage in _KNOWN_USER_STAGES:
        return tuple(dict.fromkeys((*view.interaction.amr, *verified.amr)))
    return verified.amr


def _count_refusal(ctx: AppContext, view: InteractionView, reason: str) -> None:
    if reason == PasskeyProblemReason.UNAVAILABLE.value:
        return  # the server's set-up, not the user's login
    record_login_failed(ctx, view, f"passkey_{reason}")
    ctx.identity_metrics.login_refused(LoginMethod.PASSKEY, reason)
