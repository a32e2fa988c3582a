"""The login pages' steps: choose a provider, password, SMS code, "continue as …", cancel.

Each step loads the interaction (bound to the browser that started it), does its part and
either names the next stage or finishes: SSO session started or renewed, code issued, and the
authorization response ready for the client. Slow password hashing happens outside any
write transaction.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from idplus.auth import local, throttle
from idplus.auth.throttle import Throttled
from idplus.crypto.hashing import hash_handle
from idplus.errors import AccessDenied
from idplus.models import Authentication, Client, Interaction, SsoSession, User
from idplus.protocol.assurance import AMR_PASSWORD, AMR_SMS_OTP, acr_for_level, level_of_amr
from idplus.protocol.authorization_response import AuthorizationResponse, error_response
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Step, complete_authorization, target_of
from idplus.protocol.password_check import WrongPassword, check_password
from idplus.protocol.sso import (
    live_session,
    session_lifetime,
    sso_group,
    start_or_renew_session,
)
from idplus.store.base import UnitOfWork

OTP_STAGE = "otp"


class InteractionGone(Exception):
    """Unknown, expired, finished, or started in another browser."""


class LoginProblem(Exception):
    """Something the user can fix on the same page; `reason` picks the message."""

    def __init__(self, reason: str, *, retry_after_minutes: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_minutes = retry_after_minutes


@dataclass(frozen=True, slots=True)
class InteractionView:
    """What a page shows: the pending request, its client, and the user once known."""

    handle: str
    interaction: Interaction
    client: Client
    user: User | None


@dataclass(frozen=True, slots=True)
class LoginFinished:
    """The login is done. `session_handle` is set when it (re)authenticated the session: the
    browser gets a new SSO cookie, and a new browser cookie, so nothing fixed before survives."""

    response: AuthorizationResponse
    session: SsoSession
    group: str
    session_handle: str | None = None


StepResult = InteractionView | LoginFinished | AuthorizationResponse


def load_interaction(ctx: AppContext, handle: str, browser_id: str) -> InteractionView:
    with ctx.store.reading() as uow:
        return _load(uow, ctx, handle, browser_id)


def _load(uow: UnitOfWork, ctx: AppContext, handle: str, browser_id: str) -> InteractionView:
    key = ctx.secrets.handle_key
    interaction = uow.interactions.find(hash_handle(key, handle))
    if interaction is None or interaction.expires_at <= ctx.clock.now():
        raise InteractionGone("unknown or expired")
    if interaction.browser_hash != hash_handle(key, f"browser:{browser_id}"):
        raise InteractionGone("started in another browser")
    client = uow.clients.find(interaction.client_id)
    if client is None:
        raise InteractionGone("client removed")
    user = uow.users.find(interaction.user_id) if interaction.user_id else None
    return InteractionView(handle, interaction, client, user)


def choose_provider(
    ctx: AppContext, handle: str, browser_id: str, provider_id: str
) -> InteractionView:
    with ctx.store.transaction() as uow:
        view = _load(uow, ctx, handle, browser_id)
        allowed = {p.id for p in ctx.providers.for_client(view.client)}
        if provider_id not in allowed:
            raise LoginProblem("unknown_provider")
        return _save(uow, view, stage=Step.LOGIN.value, provider=provider_id)


def submit_password(
    ctx: AppContext,
    handle: str,
    browser_id: str,
    *,
    username: str,
    password: str,
    remember_me: bool,
    address: str | None,
) -> StepResult:
    """Raises HashingBusy (shed: every hashing slot is taken) besides the usual problems."""
    with ctx.store.reading() as uow:
        view = _load(uow, ctx, handle, browser_id)
    if view.interaction.stage != Step.LOGIN.value:
        raise InteractionGone("not at the password step")
    try:
        user = check_password(ctx, local.canonical_username(username), password, address)
    except WrongPassword:
        raise LoginProblem("invalid_credentials") from None
    except Throttled as throttled:
        minutes = throttled.minutes_left(ctx.clock.now())
        raise LoginProblem("locked", retry_after_minutes=minutes) from None
    with ctx.store.transaction() as uow:
        view = _load(uow, ctx, handle, browser_id)
        if view.interaction.stage != Step.LOGIN.value:
            raise InteractionGone("not at the password step")
        interaction = replace(
            view.interaction, user_id=user.id, remember_me=remember_me, amr=(AMR_PASSWORD,)
        )
        if _needs_second_factor(user, interaction):
            return _send_otp(uow, ctx, replace(view, interaction=interaction, user=user))
        return _finish(uow, ctx, replace(view, interaction=interaction, user=user))


def _needs_second_factor(user: User, interaction: Interaction) -> bool:
    return user.otp_required or interaction.request.requested_aal >= 2


def start_step_up(ctx: AppContext, handle: str, browser_id: str) -> InteractionView:
    """A known session that must reach a higher level: straight to the SMS code."""
    with ctx.store.transaction() as uow:
        view = _load(uow, ctx, handle, browser_id)
        if view.interaction.stage != Step.STEP_UP.value or view.user is None:
            raise InteractionGone("not a step-up")
        return _send_otp(uow, ctx, view)


def _send_otp(uow: UnitOfWork, ctx: AppContext, view: InteractionView) -> InteractionView:
    """Send a (new) code, within this login's and this phone number's SMS budgets.

    Raising a LoginProblem rolls the caller's transaction back: nothing is counted then.
    """
    user, interaction, settings = view.user, view.interaction, ctx.settings
    assert user is not None
    if user.phone_number is None:
        raise LoginProblem("no_phone")
    now = ctx.clock.now()
    code = local.new_otp(random=ctx.random)
    sent = uow.interactions.record_otp_sent(
        interaction.id_hash,
        otp_hash=local.hash_otp(ctx.secrets.handle_key, interaction.id_hash, code),
        expires_at=now + local.OTP_LIFETIME,
        max_sends=1 + settings.otp_max_resends,
        not_sent_since=now - timedelta(seconds=settings.otp_resend_interval_seconds),
        now=now,
    )
    if not sent:
        exhausted = interaction.otp_sends > settings.otp_max_resends
        raise LoginProblem("otp_resend_limit" if exhausted else "otp_resend_wait")
    try:
        throttle.reserve(
            uow, [throttle.key_of(throttle.login_sms_rule(settings), user.phone_number)], now
        )
    except Throttled:
        raise LoginProblem("sms_limit") from None
    interaction = replace(interaction, stage=OTP_STAGE)
    uow.interactions.save(interaction)
    local.send_otp(ctx.sender, user.phone_number, code, interaction.request.ui_locale, now)
    return replace(view, interaction=interaction)


def resend_otp(ctx: AppContext, handle: str, browser_id: str) -> InteractionView:
    with ctx.store.transaction() as uow:
        view = _load(uow, ctx, handle, browser_id)
        if view.interaction.stage != OTP_STAGE:
            raise InteractionGone("not at the code step")
        return _send_otp(uow, ctx, view)


def submit_otp(ctx: AppContext, handle: str, browser_id: str, code: str) -> StepResult:
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        view = _load(uow, ctx, handle, browser_id)
        if view.interaction.stage != OTP_STAGE or view.interaction.otp_hash is None:
            raise InteractionGone("not at the code step")
        problem = _check_otp(uow, ctx, view.interaction, code, now)
        if problem is None:
            amr = tuple(dict.fromkeys((*view.interaction.amr, AMR_SMS_OTP)))
            return _finish(uow, ctx, replace(view, interaction=replace(view.interaction, amr=amr)))
    # The counted guess is committed above; only then is the problem raised.
    raise LoginProblem(problem)


def _check_otp(
    uow: UnitOfWork, ctx: AppContext, interaction: Interaction, code: str, now: datetime
) -> str | None:
    """None when the code is right; the guess is counted (atomically) before it is checked."""
    if interaction.otp_expires_at is None or interaction.otp_expires_at <= now:
        return "otp_expired"
    id_hash = interaction.id_hash
    if not uow.interactions.reserve_otp_attempt(id_hash, ctx.settings.otp_max_attempts):
        return "otp_too_many"
    # Read again after the reservation: a resend may have replaced the code meanwhile.
    current = uow.interactions.find(id_hash)
    if current is None or current.otp_hash is None:
        return "otp_expired"
    presented = local.hash_otp(ctx.secrets.handle_key, id_hash, code.strip())
    return None if hmac.compare_digest(presented, current.otp_hash) else "otp_invalid"


def confirm_continue(ctx: AppContext, handle: str, browser_id: str) -> StepResult:
    """ "Continue as …": reuse the session as it is."""
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        view = _load(uow, ctx, handle, browser_id)
        session = live_session(uow, view.interaction.session_id, now)
        if view.interaction.stage != Step.CONTINUE.value or session is None or view.user is None:
            raise InteractionGone("the session is gone")
        uow.interactions.consume(view.interaction.id_hash)
        response = complete_authorization(
            uow,
            ctx,
            request=view.interaction.request,
            client=view.client,
            session=session,
            user=view.user,
            now=now,
        )
        return LoginFinished(response, session, sso_group(view.client))


def switch_user(ctx: AppContext, handle: str, browser_id: str) -> InteractionView:
    """ "Not you?": log in afresh; a different user's login replaces the session."""
    with ctx.store.transaction() as uow:
        view = _load(uow, ctx, handle, browser_id)
        several = len(ctx.providers.for_client(view.client)) > 1
        stage = Step.SELECT_PROVIDER if several else Step.LOGIN
        return _save(uow, view, stage=stage.value, user_id=None, amr=())


def cancel(ctx: AppContext, handle: str, browser_id: str) -> AuthorizationResponse:
    with ctx.store.transaction() as uow:
        view = _load(uow, ctx, handle, browser_id)
        uow.interactions.consume(view.interaction.id_hash)
    error = AccessDenied("the user cancelled the login")
    return error_response(target_of(view.interaction.request), ctx.settings.issuer, error)


def _save(uow: UnitOfWork, view: InteractionView, **changes: object) -> InteractionView:
    interaction = replace(view.interaction, **changes)  # type: ignore[arg-type]
    uow.interactions.save(interaction)
    return replace(view, interaction=interaction)


def _finish(uow: UnitOfWork, ctx: AppContext, view: InteractionView) -> LoginFinished:
    now = ctx.clock.now()
    interaction, user = view.interaction, view.user
    assert user is not None
    if not uow.interactions.consume(interaction.id_hash):
        raise InteractionGone("already finished")
    authentication = Authentication(
        user_id=user.id,
        auth_time=now,
        amr=interaction.amr,
        acr=acr_for_level(level_of_amr(interaction.amr)),
        idp=interaction.provider or "local",
    )
    group = sso_group(view.client)
    lifetime = session_lifetime(
        view.client,
        interaction.remember_me,
        timedelta(seconds=ctx.settings.sso_session_lifetime),
    )
    signed_in = start_or_renew_session(
        uow,
        handle_key=ctx.secrets.handle_key,
        group=group,
        authentication=authentication,
        lifetime=lifetime,
        existing=live_session(uow, interaction.session_id, now),
        now=now,
        random=ctx.random,
    )
    session = signed_in.session
    request = interaction.request
    if request.return_to is not None:
        # A login for idplus's own page: back to it, no code.
        response = AuthorizationResponse(ctx.settings.issuer + request.return_to, "query", {})
    else:
        response = complete_authorization(
            uow, ctx, request=request, client=view.client, session=session, user=user, now=now
        )
    return LoginFinished(response, session, group, signed_in.handle)
