"""The login interaction's stages, and how an authorization request starts one.

OIDC Core §3.1.2.3: `prompt=none` turns "needs a login" into login_required and "needs a
page" into interaction_required; `prompt=login` and an exceeded `max_age` force a login; an
`acr_values` level above the session's gives a step-up. What each stage lets the user do next
is the state machine in `protocol/login/machine.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from idplus.auth.providers import ProviderInfo, ProviderKind
from idplus.crypto.hashing import hash_handle
from idplus.errors import (
    InteractionRequired,
    LoginRequired,
    OAuthError,
    UnmetAuthenticationRequirements,
)
from idplus.logs import get_logger
from idplus.models import AuthorizationRequest, Client, Interaction, SsoSession, User
from idplus.protocol.assurance import level_of_acr
from idplus.protocol.authorization_code import issue_code
from idplus.protocol.authorization_response import (
    AuthorizationResponse,
    error_response,
    success_response,
)
from idplus.protocol.authorize import (
    RedirectableError,
    RedirectTarget,
    validate_client,
    validate_parameters,
)
from idplus.protocol.context import AppContext
from idplus.protocol.front_channel_tokens import front_channel_tokens
from idplus.protocol.params import Params
from idplus.protocol.pushed_request import is_pushed, take_pushed_request
from idplus.protocol.sso import live_login_of_cookie, sso_group
from idplus.store.base import UnitOfWork

log = get_logger(__name__)


class Stage(StrEnum):
    """Where a login in progress stands: the page the user sees (the values are stored)."""

    # Several providers and none chosen through `acr_values=idp:…`.
    SELECT_PROVIDER = "select_provider"
    # The chosen authenticator's first step (the local one: username + password).
    LOGIN = "login"
    # A one-time code sent by SMS: the local authenticator's second factor.
    OTP = "otp"
    # A live session, a client without silent SSO: "continue as …?".
    CONTINUE = "continue"
    # A live session below the requested level: offer the session's second factor.
    STEP_UP = "step_up"
    # Sent to an upstream OpenID provider; its callback (or a cancel) ends the stage.
    UPSTREAM = "upstream"
    # A passkey answered the login's challenge (POST /webauthn/login/verify): the next
    # GET /login finishes the login with it.
    PASSKEY_VERIFIED = "passkey_verified"


@dataclass(frozen=True, slots=True)
class InteractionStarted:
    handle: str
    stage: Stage


AuthorizeOutcome = AuthorizationResponse | InteractionStarted
# SSO group → the handle in this browser's cookie for it, if any.
SessionLookup = Callable[[str], str | None]


def target_of(request: AuthorizationRequest) -> RedirectTarget:
    return RedirectTarget(request.redirect_uri, request.response_mode, request.state)


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request that needs the user starts, and with which provider (None: the user
    chooses on the selection page)."""

    stage: Stage
    provider: str | None = None


def decide_first_stage(
    request: AuthorizationRequest,
    client: Client,
    session: SsoSession | None,
    now: datetime,
    providers: Sequence[ProviderInfo],
) -> Route | None:
    """The stage the user must start at, or None when the request completes at once.

    `providers` are the client's. A login goes to those that reach the requested level; a
    session below it steps up with its own provider when that provider reaches the level,
    and otherwise logs in again with one that does (OIDC Core §3.1.2.1 acr_values). None that
    reaches it: `unmet_authentication_requirements`.
    """
    login = _needs_login(request, session, now, [p.id for p in providers])
    step_up = (
        not login and session is not None and request.requested_aal > level_of_acr(session.acr)
    )
    capable = [p for p in providers if p.max_level >= request.requested_aal]
    if step_up and session is not None and session.idp not in {p.id for p in capable}:
        login, step_up = True, False
    if "none" in request.prompt:
        if login or step_up:
            raise LoginRequired("the user must log in")
        if not client.silent_sso:
            raise InteractionRequired("the user must confirm on a page")
        return None
    if login:
        return _login_route(request, capable)
    if step_up and session is not None:
        own = next(p for p in capable if p.id == session.idp)
        # An upstream raises the level by logging in there again; the local provider by its
        # second factor.
        stage = Stage.LOGIN if own.kind is ProviderKind.UPSTREAM else Stage.STEP_UP
        return Route(stage, session.idp)
    if client.silent_sso or session is None:
        return None
    return Route(Stage.CONTINUE, session.idp)


def _login_route(request: AuthorizationRequest, capable: Sequence[ProviderInfo]) -> Route:
    if not capable:
        raise UnmetAuthenticationRequirements("no login method reaches the requested level")
    chosen = request.requested_idp
    if chosen is not None and any(p.id == chosen for p in capable):
        return Route(Stage.LOGIN, chosen)
    if chosen is None and len(capable) == 1:
        return Route(Stage.LOGIN, capable[0].id)
    # Several to choose from, or an `idp:` the client may not use (or that cannot reach the
    # level): the user picks among those that can.
    return Route(Stage.SELECT_PROVIDER)


def _needs_login(
    request: AuthorizationRequest,
    session: SsoSession | None,
    now: datetime,
    provider_ids: Sequence[str],
) -> bool:
    if session is None or "login" in request.prompt:
        return True
    if request.max_age is not None and now - session.auth_time > timedelta(seconds=request.max_age):
        return True
    if request.requested_idp is not None and session.idp != request.requested_idp:
        return True
    return session.idp not in provider_ids


def start_authorization(
    ctx: AppContext,
    params: Params,
    browser_id: str,
    session_for_group: SessionLookup,
    fallback_locale: str = "en",
) -> AuthorizeOutcome:
    """Validate, then complete at once or save the request for the login pages (in
    `fallback_locale` when the request has no `ui_locales`).

    Raises FatalAuthorizeError for a bad client_id / redirect_uri or a request_uri that names
    no pushed request of the client (shown on a page).
    """
    issuer, now = ctx.settings.issuer, ctx.clock.now()
    with ctx.store.transaction() as uow:
        if is_pushed(params):
            # Validated when it was pushed; used once, in this transaction.
            client, request = take_pushed_request(uow, ctx, params, fallback_locale)
        else:
            client_id = params.get("client_id")
            client = validate_client(params, uow.clients.find(client_id) if client_id else None)
            try:
                request = validate_parameters(params, client, fallback_locale)
            except RedirectableError as problem:
                _log_redirected_refusal(client, problem.error)
                return error_response(problem.target, issuer, problem.error)
        cookie_handle = session_for_group(sso_group(client))
        session, user = _session_of(uow, ctx.secrets.handle_key, cookie_handle, now)
        providers = ctx.providers.for_client(client)
        try:
            route = decide_first_stage(request, client, session, now, providers)
        except OAuthError as error:
            _log_redirected_refusal(client, error)
            return error_response(target_of(request), issuer, error)
        if route is None:
            assert session is not None
            assert user is not None
            return complete_authorization(
                uow, ctx, request=request, client=client, session=session, user=user, now=now
            )
        return _start_interaction(
            uow, ctx, request=request, route=route, session=session, browser_id=browser_id
        )


def _log_redirected_refusal(client: Client, error: OAuthError) -> None:
    """An authorize error the client hears at its redirect URI; the operator reads why here."""
    log.info(
        "authorize_refused",
        reason=error.detail,
        error=error.error,
        client_id=client.client_id,
        redirected=True,
    )


def _session_of(
    uow: UnitOfWork, key: bytes, cookie_handle: str | None, now: datetime
) -> tuple[SsoSession | None, User | None]:
    login = live_login_of_cookie(uow, key, cookie_handle, now)
    return login if login is not None else (None, None)


def _start_interaction(
    uow: UnitOfWork,
    ctx: AppContext,
    *,
    request: AuthorizationRequest,
    route: Route,
    session: SsoSession | None,
    browser_id: str,
) -> InteractionStarted:
    now = ctx.clock.now()
    handle = ctx.random.handle(32)
    stage = route.stage
    uow.interactions.insert(
        Interaction(
            id_hash=hash_handle(ctx.secrets.handle_key, handle),
            browser_hash=hash_handle(ctx.secrets.handle_key, f"browser:{browser_id}"),
            client_id=request.client_id,
            request=request,
            stage=stage.value,
            created_at=now,
            expires_at=now + timedelta(seconds=ctx.settings.interaction_lifetime),
            provider=route.provider,
            # At the password form too: "Log in again as …" (prompt=login, max_age, step-up);
            # "Not you?" (the `switch` action) clears it.
            user_id=session.user_id if session is not None else None,
            session_id=session.id if session is not None else None,
            amr=session.amr if session is not None and stage is Stage.STEP_UP else (),
        ),
    )
    return InteractionStarted(handle, stage)


def complete_authorization(
    uow: UnitOfWork,
    ctx: AppContext,
    *,
    request: AuthorizationRequest,
    client: Client,
    session: SsoSession,
    user: User,
    now: datetime,
) -> AuthorizationResponse:
    """Issue the code (and, for hybrid / implicit clients, tokens) and say where they go."""
    uow.sessions.touch(session, now)
    uow.sessions.add_client(session.id, request.client_id, now)
    values: dict[str, str] = {}
    if "code" in request.response_type.split():
        values["code"] = issue_code(
            uow,
            handle_key=ctx.secrets.handle_key,
            request=request,
            session=session,
            user=user,
            now=now,
            lifetime=timedelta(seconds=ctx.settings.authorization_code_lifetime),
            random=ctx.random,
        )
    values.update(
        front_channel_tokens(
            ctx,
            request=request,
            client=client,
            session=session,
            user=user,
            code=values.get("code"),
            now=now,
        )
    )
    return success_response(target_of(request), ctx.settings.issuer, values)


def start_internal_login(
    ctx: AppContext,
    client: Client,
    *,
    return_to: str,
    browser_id: str,
    locale: str,
    session: SsoSession | None,
    login_hint: str | None = None,
    requested_aal: int = 0,
    fresh: bool = False,
    max_age: int | None = None,
) -> str:
    """A login on behalf of one of idplus's own pages (device verification, account page,
    CIBA approval). `fresh`: the user must authenticate now, at an upstream provider too
    (prompt=login, max_age=0), not ride on a session there; `max_age`: a session that
    authenticated within that many seconds will do (a step-up if its level is too low)."""
    request = AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=ctx.settings.issuer + return_to,
        response_type="code",
        response_mode="query",
        scopes=("openid",),
        ui_locale=locale,
        return_to=return_to,
        login_hint=login_hint,
        requested_aal=requested_aal,
        prompt=("login",) if fresh else (),
        max_age=0 if fresh else max_age,
    )
    route = _login_route(request, ctx.providers.for_client(client, requested_aal))
    with ctx.store.transaction() as uow:
        started = _start_interaction(
            uow, ctx, request=request, route=route, session=session, browser_id=browser_id
        )
    return started.handle
