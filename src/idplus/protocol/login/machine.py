"""The login as a state machine: one user action on a login in progress (OIDC Core §3.1.2.3
says when a user must authenticate; how is the server's, RFC 6749 §3.1).

`advance` loads the interaction once, looks its stage up in `STAGES` at the end of this module
(stage → the actions its page offers → handler), and returns a typed step result. The stage
decides which actions exist: any other is a problem shown on the page the login is at, so a
stale or forged form changes nothing. The chosen provider's authenticator does the proving
(`protocol/authenticators/`); `finish` ends the login.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from idplus.auth.providers import ProviderKind
from idplus.crypto.hashing import HashingBusy
from idplus.logs import get_logger
from idplus.protocol.authenticators.base import Authenticator
from idplus.protocol.authenticators.local import LocalAuthenticator
from idplus.protocol.authenticators.upstream import UpstreamAuthenticator
from idplus.protocol.context import AppContext
from idplus.protocol.federation.errors import UpstreamError
from idplus.protocol.interaction import Stage
from idplus.protocol.login.audit import (
    UPSTREAM_FAILED,
    UPSTREAM_LINK_REFUSED,
    record_login_failed,
    username_hash,
)
from idplus.protocol.login.counting import count_refusal, count_upstream_refusal
from idplus.protocol.login.finish import cancel, continue_session, finish_login
from idplus.protocol.login.passkey import finish_passkey_login
from idplus.protocol.login.results import (
    BrowserRedirect,
    Busy,
    Gone,
    LoginFinished,
    LoginProblem,
    Problem,
    ProblemReason,
    ShowPage,
    StepResult,
    UpstreamFailed,
    page_of,
)
from idplus.protocol.login.state import (
    Inputs,
    InteractionGone,
    InteractionView,
    load_interaction,
    save_progress,
)


class Action(StrEnum):
    """The buttons of the login pages (`name="action"`; the provider buttons are `select`)."""

    SELECT = "select"
    LOGIN = "login"
    VERIFY = "verify"
    RESEND = "resend"
    SEND = "send"
    CONTINUE = "continue"
    SWITCH = "switch"
    CANCEL = "cancel"


log = get_logger(__name__)

# The authenticator of each provider kind (passkeys, CIBA approval come later).
AUTHENTICATORS: Mapping[ProviderKind, Authenticator] = {
    ProviderKind.PASSWORD: LocalAuthenticator(),
    ProviderKind.UPSTREAM: UpstreamAuthenticator(),
}

Handler = Callable[[AppContext, InteractionView, Inputs], StepResult]


def advance(
    ctx: AppContext, handle: str, browser_id: str, action: str, inputs: Inputs
) -> StepResult:
    """Run `action` at the login's current stage (blocking: call it off the event loop).

    An empty action stands for the page's first button: INTERFACE lets a script post the
    fields alone.
    """
    try:
        view = load_interaction(ctx, handle, browser_id)
    except InteractionGone as gone:
        return Gone(str(gone))
    row = STAGES[view.stage]
    handler = row.handlers.get(row.default if action == "" else action)
    if handler is None:
        return Problem(page_of(ctx, view), ProblemReason.UNKNOWN_ACTION)
    try:
        return handler(ctx, view, inputs)
    except LoginProblem as problem:
        hashed = username_hash(ctx, view, inputs)
        _log_refusal(view, hashed, problem.reason)
        record_login_failed(ctx, view, problem.reason, username_hashed=hashed)
        count_refusal(ctx, view, problem.reason)
        return Problem(page_of(ctx, view), problem.reason, problem.retry_after_minutes)
    except InteractionGone as gone:
        return Gone(str(gone))
    except HashingBusy:
        log.warning("login_shed", client_id=view.client.client_id, stage=view.stage.value)
        return Busy(view.interaction.request.ui_locale, view.client)
    except UpstreamError as error:
        return _upstream_failed(ctx, view, error)


def _log_refusal(view: InteractionView, hashed_username: str | None, reason: str) -> None:
    """Why a login step failed and for whom, for an operator: the user once the password is
    proved, before that a keyed hash of the typed name (the same name gives the same hash, so
    a lock can be traced; the log never holds the name itself)."""
    log.info(
        "login_refused",
        reason=reason,
        stage=view.stage.value,
        client_id=view.client.client_id,
        user_id=view.user.id if view.user is not None else None,
        username_hash=hashed_username,
    )


def show(
    ctx: AppContext, handle: str, browser_id: str, user_agent: str | None = None
) -> ShowPage | Gone | BrowserRedirect | UpstreamFailed | LoginFinished:
    """The page of the login's current stage; a login at an upstream provider's first step
    (chosen by `acr_values=idp:…`, the client's only provider, or the browser coming back from
    the upstream without finishing) is sent (again) to the upstream, with a fresh state. A
    login a passkey proved (the script's verify, then this GET) finishes here."""
    try:
        view = load_interaction(ctx, handle, browser_id)
        if view.stage is Stage.PASSKEY_VERIFIED:
            return finish_passkey_login(ctx, view, user_agent)
    except InteractionGone as gone:
        return Gone(str(gone))
    if view.stage in (Stage.LOGIN, Stage.UPSTREAM) and _is_upstream(ctx, view):
        try:
            started = _authenticator(ctx, view).start(ctx, view)
            return (
                started if isinstance(started, BrowserRedirect) else ShowPage(page_of(ctx, started))
            )
        except UpstreamError as error:
            return _upstream_failed(ctx, view, error)
        except InteractionGone as gone:
            return Gone(str(gone))
    return ShowPage(page_of(ctx, view))


def _is_upstream(ctx: AppContext, view: InteractionView) -> bool:
    provider = ctx.providers.get(view.interaction.provider or "")
    return provider is not None and provider.kind is ProviderKind.UPSTREAM


def _start_upstream(ctx: AppContext, view: InteractionView, _inputs: Inputs) -> StepResult:
    started = _authenticator(ctx, view).start(ctx, view)
    return started if isinstance(started, BrowserRedirect) else _shown(ctx, started)


def _upstream_failed(
    ctx: AppContext, view: InteractionView, error: UpstreamError
) -> UpstreamFailed:
    provider = view.interaction.provider
    log.warning("upstream_login_failed", provider=provider, reason=str(error))
    refusal = error.refusal.value if error.refusal is not None else None
    reason = UPSTREAM_FAILED if refusal is None else UPSTREAM_LINK_REFUSED
    record_login_failed(ctx, view, reason, provider=provider, refusal=refusal)
    count_upstream_refusal(ctx, reason)
    return UpstreamFailed(
        str(error), view.interaction.request.ui_locale, view.client, refusal=error.refusal
    )


def _select_provider(ctx: AppContext, view: InteractionView, inputs: Inputs) -> StepResult:
    """A fresh login with the chosen provider's authenticator, for nobody yet."""
    level = view.interaction.request.requested_aal
    provider = ctx.providers.allowed(view.client, inputs.get("provider"), level)
    authenticator = AUTHENTICATORS.get(provider.kind) if provider is not None else None
    if provider is None or authenticator is None:
        raise LoginProblem(ProblemReason.UNKNOWN_PROVIDER)
    fresh = replace(view.interaction, provider=provider.id, user_id=None, amr=())
    started = authenticator.start(ctx, replace(view, interaction=fresh, user=None))
    return started if isinstance(started, BrowserRedirect) else _shown(ctx, started)


def _complete(ctx: AppContext, view: InteractionView, inputs: Inputs) -> StepResult:
    outcome = _authenticator(ctx, view).complete(ctx, view, inputs)
    if isinstance(outcome, InteractionView):
        return _shown(ctx, outcome)
    return finish_login(ctx, view, outcome, inputs.user_agent)


def _resend(ctx: AppContext, view: InteractionView, _inputs: Inputs) -> StepResult:
    return _shown(ctx, _authenticator(ctx, view).resend(ctx, view))


def _step_up(ctx: AppContext, view: InteractionView, _inputs: Inputs) -> StepResult:
    return _shown(ctx, _authenticator(ctx, view).step_up(ctx, view))


def _continue(ctx: AppContext, view: InteractionView, _inputs: Inputs) -> StepResult:
    return continue_session(ctx, view)


def _switch(ctx: AppContext, view: InteractionView, _inputs: Inputs) -> StepResult:
    """ "Not you?": log in afresh; a different user's login then replaces the session."""
    providers = ctx.providers.for_client(view.client, view.interaction.request.requested_aal)
    if len(providers) == 1:
        return _select_provider(ctx, view, Inputs({"provider": providers[0].id}))
    anyone = replace(
        view.interaction, stage=Stage.SELECT_PROVIDER.value, provider=None, user_id=None, amr=()
    )
    with ctx.store.transaction() as uow:
        return _shown(ctx, save_progress(uow, view, anyone, None))


def _finish_passkey(ctx: AppContext, view: InteractionView, inputs: Inputs) -> StepResult:
    return finish_passkey_login(ctx, view, inputs.user_agent)


def _cancel(ctx: AppContext, view: InteractionView, _inputs: Inputs) -> StepResult:
    return cancel(ctx, view)


def _authenticator(ctx: AppContext, view: InteractionView) -> Authenticator:
    """The authenticator of the provider this login uses."""
    provider = ctx.providers.get(view.interaction.provider or "")
    authenticator = AUTHENTICATORS.get(provider.kind) if provider is not None else None
    if authenticator is None:
        raise InteractionGone(f"provider {view.interaction.provider!r} is not available")
    return authenticator


def _shown(ctx: AppContext, view: InteractionView) -> ShowPage:
    return ShowPage(page_of(ctx, view))


@dataclass(frozen=True, slots=True)
class StageRow:
    # The action an empty `action` field stands for (the page's first button).
    default: Action
    handlers: Mapping[str, Handler]


STAGES: Mapping[Stage, StageRow] = {
    Stage.SELECT_PROVIDER: StageRow(
        Action.SELECT, {Action.SELECT: _select_provider, Action.CANCEL: _cancel}
    ),
    # SWITCH: "Not you?" when a session's user must log in again (prompt=login, step-up).
    Stage.LOGIN: StageRow(
        Action.LOGIN, {Action.LOGIN: _complete, Action.SWITCH: _switch, Action.CANCEL: _cancel}
    ),
    Stage.OTP: StageRow(
        Action.VERIFY,
        {Action.VERIFY: _complete, Action.RESEND: _resend, Action.CANCEL: _cancel},
    ),
    Stage.STEP_UP: StageRow(
        Action.SEND, {Action.SEND: _step_up, Action.SWITCH: _switch, Action.CANCEL: _cancel}
    ),
    Stage.UPSTREAM: StageRow(
        Action.CONTINUE, {Action.CONTINUE: _start_upstream, Action.CANCEL: _cancel}
    ),
    Stage.CONTINUE: StageRow(
        Action.CONTINUE,
        {Action.CONTINUE: _continue, Action.SWITCH: _switch, Action.CANCEL: _cancel},
    ),
    # GET /login finishes it; a form posted meanwhile (its page shows "Continue as …") too.
    Stage.PASSKEY_VERIFIED: StageRow(
        Action.CONTINUE,
        {Action.CONTINUE: _finish_passkey, Action.SWITCH: _switch, Action.CANCEL: _cancel},
    ),
}
