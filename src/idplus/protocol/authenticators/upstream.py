"""The upstream authenticator (federation): an OpenID Connect code flow with PKCE S256 at an
upstream provider (OIDC Core §3.1, RFC 7636), then its callback.

`start` binds a fresh `state`, `nonce` and PKCE verifier to the login in progress (the state
only as an HMAC) and sends the browser to the upstream's authorization endpoint, passing on
`prompt=login` and `max_age` so that a forced login is forced upstream too. `callback` finds
the login by its state, in the browser that started it, exchanges the code, validates the ID
token (`federation/id_token.py`), reads the upstream's userinfo, and logs in the local user of
the upstream account (`federation/accounts.py`). Every fault is an `UpstreamFailed` (an error
page) with a structured log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from idplus.auth.upstream_metadata import UpstreamUnavailable
from idplus.crypto.hashing import hash_handle
from idplus.crypto.secrets import seal_secret
from idplus.logs import get_logger
from idplus.models import AuthorizationRequest, UpstreamProvider, UpstreamSessionTokens
from idplus.protocol.account_lock import ACCOUNT_LOCKED, is_locked
from idplus.protocol.assurance import acr_for_level
from idplus.protocol.authenticators.base import Authenticated, UpstreamLogin
from idplus.protocol.context import AppContext
from idplus.protocol.federation.accounts import account_of
from idplus.protocol.federation.errors import LinkRefusal, UpstreamError
from idplus.protocol.federation.id_token import LEEWAY_SECONDS, validate_id_token
from idplus.protocol.federation.upstream_calls import UpstreamTokens, fetch_userinfo, redeem_code
from idplus.protocol.interaction import Stage
from idplus.protocol.login.audit import UPSTREAM_FAILED, UPSTREAM_LINK_REFUSED, record_login_failed
from idplus.protocol.login.counting import count_upstream_refusal
from idplus.protocol.login.finish import cancel, finish_login
from idplus.protocol.login.results import (
    BrowserRedirect,
    Cancelled,
    LoginFinished,
    LoginProblem,
    ProblemReason,
    UpstreamFailed,
)
from idplus.protocol.login.state import Inputs, InteractionGone, InteractionView, save_progress
from idplus.protocol.pkce import s256_challenge
from idplus.uris import federation_callback_uri

log = get_logger(__name__)

# The amr a login through a provider asserts when the operator configured none.
DEFAULT_AMR = ("ext",)
# ID token claims that are about the token, not the user: userinfo never overrides them.
_TOKEN_CLAIMS = frozenset({"iss", "aud", "azp", "exp", "iat", "nbf", "nonce", "auth_time", "sub"})


def state_hash(ctx: AppContext, state: str) -> str:
    return hash_handle(ctx.secrets.handle_key, f"upstream-state:{state}")


class UpstreamAuthenticator:
    def start(self, ctx: AppContext, view: InteractionView) -> BrowserRedirect:
        """Raises UpstreamError when the provider is gone or its discovery cannot be had."""
        provider = _provider(ctx, view.interaction.provider or "")
        try:
            metadata = ctx.upstream.discovery(provider.issuer)
        except UpstreamUnavailable as error:
            raise UpstreamError(f"discovery: {error}") from None
        state, nonce, verifier = (ctx.random.handle(32) for _ in range(3))
        at_upstream = replace(
            view.interaction,
            stage=Stage.UPSTREAM.value,
            upstream_state_hash=state_hash(ctx, state),
            upstream_nonce=nonce,
            upstream_verifier=verifier,
        )
        with ctx.store.transaction() as uow:
            save_progress(uow, view, at_upstream, view.user)
        query = {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": federation_callback_uri(ctx.settings.issuer, provider.id),
            "scope": " ".join(provider.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": s256_challenge(verifier),
            "code_challenge_method": "S256",
            "ui_locales": view.interaction.request.ui_locale,
            **_prompt_and_max_age(view.interaction.request, provider),
        }
        endpoint = str(metadata["authorization_endpoint"])
        return BrowserRedirect(f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}")

    def complete(self, ctx: AppContext, view: InteractionView, inputs: Inputs) -> Authenticated:
        raise LoginProblem(ProblemReason.UNKNOWN_ACTION)

    def step_up(self, ctx: AppContext, view: InteractionView) -> InteractionView:
        raise LoginProblem(ProblemReason.UNKNOWN_ACTION)

    def resend(self, ctx: AppContext, view: InteractionView) -> InteractionView:
        raise LoginProblem(ProblemReason.UNKNOWN_ACTION)


def _prompt_and_max_age(
    request: AuthorizationRequest, provider: UpstreamProvider
) -> dict[str, str]:
    """OIDC Core §3.1.2.1: `prompt=login` and `max_age` make the upstream log the user in
    again, not reuse its own session, when the client asked idplus to; OIDC Core §11: a
    refresh token (`offline_access`, kept to revoke at logout) needs `prompt=consent`."""
    prompt = [p for p in ("login",) if p in request.prompt]
    if "offline_access" in provider.scopes:
        prompt.append("consent")
    values = {"prompt": " ".join(prompt)} if prompt else {}
    if request.max_age is not None:
        values["max_age"] = str(request.max_age)
    return values


def callback(
    ctx: AppContext,
    provider_id: str,
    browser_id: str,
    query: Mapping[str, str],
    user_agent: str | None = None,
) -> LoginFinished | Cancelled | UpstreamFailed:
    """The upstream sent the browser back (blocking: call it off the event loop)."""
    # A state that matches no login names no language or app: the page decides without them.
    view: InteractionView | None = None
    try:
        view = _login_of_state(ctx, provider_id, browser_id, query.get("state", ""))
        error = query.get("error")
        if error == "access_denied":
            log.info("upstream_login_denied", provider=provider_id)
            return cancel(ctx, view)
        provider = _provider(ctx, provider_id)
        _check_issuer(ctx, provider, query.get("iss"))
        if error:
            raise UpstreamError(f"the upstream answered error={error[:100]}")
        verifier = view.interaction.upstream_verifier or ""
        tokens = redeem_code(ctx, provider, query.get("code", ""), verifier)
        proof = _authenticated(ctx, provider, view, tokens)
        finished = finish_login(ctx, view, proof, user_agent)
    except (UpstreamError, InteractionGone) as failure:
        refusal = failure.refusal if isinstance(failure, UpstreamError) else None
        log.warning("upstream_login_failed", provider=provider_id, reason=str(failure))
        if view is None:
            # A state that matches no login: nobody's login failed (and a stranger's requests
            # write nothing).
            return UpstreamFailed(str(failure), refusal=refusal)
        _forget_state(ctx, view)
        reason = UPSTREAM_FAILED if refusal is None else UPSTREAM_LINK_REFUSED
        refused = refusal.value if refusal is not None else None
        record_login_failed(ctx, view, reason, provider=provider_id, refusal=refused)
        count_upstream_refusal(ctx, reason)
        locale = view.interaction.request.ui_locale
        return UpstreamFailed(str(failure), locale, view.client, refusal=refusal)
    log.info("upstream_login", provider=provider_id, user_id=proof.user.id)
    return finished


def _check_issuer(ctx: AppContext, provider: UpstreamProvider, iss: str | None) -> None:
    """RFC 9207: an upstream that names itself in its response must name the provider the
    login went to (a mix-up defence on top of one callback path per provider)."""
    try:
        advertised = ctx.upstream.discovery(provider.issuer).get(
            "authorization_response_iss_parameter_supported"
        )
    except UpstreamUnavailable as error:
        raise UpstreamError(f"discovery: {error}") from None
    if iss is None and advertised is True:
        raise UpstreamError("the response has no iss although the upstream sends one")
    if iss is not None and iss != provider.issuer:
        raise UpstreamError("the response's iss is not the provider's issuer")


def _authenticated(
    ctx: AppContext, provider: UpstreamProvider, view: InteractionView, tokens: UpstreamTokens
) -> Authenticated:
    request = view.interaction.request
    nonce = view.interaction.upstream_nonce or ""
    claims = validate_id_token(ctx, provider, tokens.id_token, nonce, request.max_age)
    subject = str(claims["sub"])
    userinfo = fetch_userinfo(ctx, provider, tokens.access_token, subject)
    user = account_of(ctx, provider, _merged(claims, userinfo))
    if is_locked(user):
        raise UpstreamError(f"the local account is locked ({ACCOUNT_LOCKED})", LinkRefusal.LOCKED)
    kept = UpstreamSessionTokens(
        provider_id=provider.id,
        id_token=str(tokens.id_token),
        refresh_token_sealed=(
            seal_secret(tokens.refresh_token, ctx.settings.key_encryption_key_value)
            if tokens.refresh_token is not None
            else None
        ),
    )
    return Authenticated(
        user,
        provider.amr or DEFAULT_AMR,
        provider.acr or acr_for_level(1),
        upstream=UpstreamLogin(subject, kept),
        auth_time=_auth_time(claims, view),
    )


def _auth_time(claims: Mapping[str, Any], view: InteractionView) -> datetime | None:
    """When the user logged in at the upstream: the session's auth_time (OIDC Core §2), so a
    later max_age counts from there. With prompt=login it must be after the login began: an
    upstream that reused its own session did not log the user in again."""
    value = claims.get("auth_time")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, ValueError, OSError):
        raise UpstreamError("id_token auth_time is not a time") from None
    started = view.interaction.created_at - timedelta(seconds=LEEWAY_SECONDS)
    if "login" in view.interaction.request.prompt and moment < started:
        raise UpstreamError("the upstream did not log the user in again (prompt=login)")
    return moment


def _merged(id_token_claims: dict[str, Any], userinfo: Mapping[str, Any]) -> dict[str, Any]:
    """With `response_type=code` many providers put e-mail and phone claims only in userinfo."""
    extra = {name: value for name, value in userinfo.items() if name not in _TOKEN_CLAIMS}
    return {**id_token_claims, **extra}


def _forget_state(ctx: AppContext, view: InteractionView) -> None:
    """A failed callback uses its state up: the same answer sent again finds no login (and
    writes no second failure); trying again goes to the upstream with a fresh state."""
    with ctx.store.transaction() as uow:
        uow.interactions.save(replace(view.interaction, upstream_state_hash=None))


def _login_of_state(
    ctx: AppContext, provider_id: str, browser_id: str, state: str
) -> InteractionView:
    if not state:
        raise UpstreamError("no state")
    key, now = ctx.secrets.handle_key, ctx.clock.now()
    with ctx.store.reading() as uow:
        interaction = uow.interactions.find_by_upstream_state(state_hash(ctx, state))
        if interaction is None:
            raise UpstreamError("unknown, replayed or superseded state")
        if interaction.expires_at <= now:
            raise UpstreamError("the login has expired")
        if interaction.browser_hash != hash_handle(key, f"browser:{browser_id}"):
            raise UpstreamError("state from another browser")
        if interaction.stage != Stage.UPSTREAM.value or interaction.provider != provider_id:
            raise UpstreamError("state for another provider or stage")
        client = uow.clients.find(interaction.client_id)
        if client is None:
            raise UpstreamError("client removed")
        user = uow.users.find(interaction.user_id) if interaction.user_id else None
    return InteractionView("", interaction, client, user)


def _provider(ctx: AppContext, provider_id: str) -> UpstreamProvider:
    with ctx.store.reading() as uow:
        provider = uow.upstream_providers.find(provider_id)
    if provider is None:
        raise UpstreamError(f"provider {provider_id!r} is not registered")
    return provider
