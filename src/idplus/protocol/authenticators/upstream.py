"""The upstream authenticator (federation): an OpenID Connect code flow with PKCE S256 at an
upstream provider (OIDC Core §3.1, RFC 7636), then its callback.

`start` binds a fresh `state`, `nonce` and PKCE verifier to the login in progress (the state
only as an HMAC) and sends the browser to the upstream's authorization endpoint. `callback`
finds the login by its state, in the browser that started it, exchanges the code, validates the
ID token (OIDC Core §3.1.3.7) and logs in the local user of (provider, upstream `sub`), created
on first use. Every fault is an `UpstreamFailed` (an error page) with a structured log line.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeGuard
from urllib.parse import quote, urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from idplus.auth.upstream_metadata import UpstreamUnavailable
from idplus.crypto.hashing import hash_handle
from idplus.crypto.secrets import SecretDecryptionError, client_secret_of
from idplus.logs import get_logger
from idplus.models import UpstreamProvider, User
from idplus.protocol.assurance import acr_for_level
from idplus.protocol.authenticators.base import Authenticated
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Stage
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
from idplus.store.base import UnitOfWork
from idplus.uris import federation_callback_uri

log = get_logger(__name__)

# Clock skew allowed between idplus and an upstream on `exp` / `iat` (seconds).
LEEWAY_SECONDS = 60
# The password hash of users an upstream provisions: not an argon2 hash, so nothing matches it.
NO_PASSWORD = "!upstream"
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
# The amr a login through a provider asserts when the operator configured none.
DEFAULT_AMR = ("ext",)
# users.username holds 320 characters; a longer `<provider>:<sub>` is hashed.
_USERNAME_MAX = 320


class UpstreamError(Exception):
    """The upstream login cannot go on; the message is the reason for the log."""


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
        query = urlencode(
            {
                "response_type": "code",
                "client_id": provider.client_id,
                "redirect_uri": federation_callback_uri(ctx.settings.issuer, provider.id),
                "scope": " ".join(provider.scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": s256_challenge(verifier),
                "code_challenge_method": "S256",
                "ui_locales": view.interaction.request.ui_locale,
            }
        )
        endpoint = str(metadata["authorization_endpoint"])
        return BrowserRedirect(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}")

    def complete(self, ctx: AppContext, view: InteractionView, inputs: Inputs) -> Authenticated:
        raise LoginProblem(ProblemReason.UNKNOWN_ACTION)

    def step_up(self, ctx: AppContext, view: InteractionView) -> InteractionView:
        raise LoginProblem(ProblemReason.UNKNOWN_ACTION)

    def resend(self, ctx: AppContext, view: InteractionView) -> InteractionView:
        raise LoginProblem(ProblemReason.UNKNOWN_ACTION)


def callback(
    ctx: AppContext, provider_id: str, browser_id: str, query: Mapping[str, str]
) -> LoginFinished | Cancelled | UpstreamFailed:
    """The upstream sent the browser back (blocking: call it off the event loop)."""
    locale = "en"
    try:
        view = _login_of_state(ctx, provider_id, browser_id, query.get("state", ""))
        locale = view.interaction.request.ui_locale
        error = query.get("error")
        if error == "access_denied":
            log.info("upstream_login_denied", provider=provider_id)
            return cancel(ctx, view)
        if error:
            raise UpstreamError(f"the upstream answered error={error[:100]}")
        provider = _provider(ctx, provider_id)
        tokens = _exchange(ctx, provider, query.get("code", ""), view)
        claims = validate_id_token(
            ctx, provider, tokens.get("id_token"), view.interaction.upstream_nonce or ""
        )
        user = _user_of(ctx, provider, str(claims["sub"]))
        proof = Authenticated(user, provider.amr or DEFAULT_AMR, provider.acr or acr_for_level(1))
        finished = finish_login(ctx, view, proof)
    except (UpstreamError, InteractionGone) as failure:
        log.warning("upstream_login_failed", provider=provider_id, reason=str(failure))
        return UpstreamFailed(str(failure), locale)
    log.info("upstream_login", provider=provider_id, user_id=user.id)
    return finished


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


def _client_secret(ctx: AppContext, provider: UpstreamProvider) -> str | None:
    try:
        return client_secret_of(provider, ctx.settings)
    except SecretDecryptionError:
        raise UpstreamError("the provider's client secret cannot be opened") from None


def _exchange(
    ctx: AppContext, provider: UpstreamProvider, code: str, view: InteractionView
) -> dict[str, Any]:
    """The code for tokens at the upstream's token endpoint (RFC 6749 §4.1.3, RFC 7636)."""
    if not code:
        raise UpstreamError("no code")
    try:
        endpoint = str(ctx.upstream.discovery(provider.issuer)["token_endpoint"])
    except UpstreamUnavailable as error:
        raise UpstreamError(f"discovery: {error}") from None
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": federation_callback_uri(ctx.settings.issuer, provider.id),
        "code_verifier": view.interaction.upstream_verifier or "",
    }
    headers = {"Accept": "application/json"}
    secret = _client_secret(ctx, provider)
    if secret is not None and provider.token_auth_method == "client_secret_basic":
        # RFC 6749 §2.3.1: both parts form-urlencoded before the Basic encoding.
        pair = f"{quote(provider.client_id, safe='')}:{quote(secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        form["client_id"] = provider.client_id
        if secret is not None:
            form["client_secret"] = secret
    try:
        response = ctx.upstream.http.post(endpoint, data=form, headers=headers)
    except httpx.HTTPError as error:
        raise UpstreamError(f"token endpoint: {type(error).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        detail = body.get("error") if isinstance(body, dict) else None
        raise UpstreamError(f"token endpoint: HTTP {response.status_code} {detail or ''}".strip())
    return body


def validate_id_token(
    ctx: AppContext, provider: UpstreamProvider, id_token: object, nonce: str
) -> dict[str, Any]:
    """The ID token's claims once its signature (upstream JWKS), iss, aud, azp, exp, iat and
    nonce check out (OIDC Core §3.1.3.7); raises UpstreamError otherwise."""
    if not isinstance(id_token, str) or not id_token:
        raise UpstreamError("no id_token")
    kid = _kid_of(id_token)
    try:
        keys = KeySet.import_key_set(ctx.upstream.jwks(provider.issuer))  # type: ignore[arg-type]
        if kid is not None and not _has_kid(keys, kid):
            # The upstream may have rotated: refetch once.
            fresh = ctx.upstream.jwks(provider.issuer, refresh=True)
            keys = KeySet.import_key_set(fresh)  # type: ignore[arg-type]
            if not _has_kid(keys, kid):
                raise UpstreamError(f"id_token signed by unknown key {kid[:64]!r}")
    except UpstreamUnavailable as error:
        raise UpstreamError(f"jwks: {error}") from None
    except (JoseError, ValueError, TypeError) as error:
        raise UpstreamError(f"jwks: {type(error).__name__}") from None
    try:
        claims = dict(jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS).claims)
    except (JoseError, ValueError, TypeError) as error:
        raise UpstreamError(f"id_token signature: {type(error).__name__}") from None
    check_id_token_claims(claims, provider, nonce, ctx.clock.now())
    return claims


def check_id_token_claims(
    claims: Mapping[str, Any], provider: UpstreamProvider, nonce: str, now: datetime
) -> None:
    if claims.get("iss") != provider.issuer:
        raise UpstreamError("id_token iss is not the provider's issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if provider.client_id not in audiences:
        raise UpstreamError("id_token aud is not our client id")
    azp = claims.get("azp")
    if azp is not None and azp != provider.client_id:
        raise UpstreamError("id_token azp is not our client id")
    if len(audiences) > 1 and azp is None:
        raise UpstreamError("id_token has several audiences and no azp")
    exp, iat, moment = claims.get("exp"), claims.get("iat"), now.timestamp()
    if not _is_number(exp) or exp + LEEWAY_SECONDS <= moment:
        raise UpstreamError("id_token expired")
    if not _is_number(iat) or iat - LEEWAY_SECONDS > moment:
        raise UpstreamError("id_token issued in the future")
    if not nonce or claims.get("nonce") != nonce:
        raise UpstreamError("id_token nonce does not match")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise UpstreamError("id_token sub missing or invalid")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kid_of(id_token: str) -> str | None:
    """The header's kid, read (not trusted) to know whether the JWKS must be refetched."""
    try:
        header = extract_compact(id_token.encode()).protected
    except (JoseError, ValueError, TypeError, UnicodeError):
        raise UpstreamError("id_token is not a JWS") from None
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


def _user_of(ctx: AppContext, provider: UpstreamProvider, subject: str) -> User:
    """The local user of this upstream account, created on its first login (no password).

    Two first logins of one account may run at once: both inserts are idempotent, and both
    logins end as whichever user was created first.
    """
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        user_id = uow.upstream_accounts.find_user_id(provider.id, subject)
        if user_id is None:
            new = _new_user(uow, ctx, provider.id, subject)
            if uow.users.insert_if_absent(new, now):
                log.info("upstream_user_created", provider=provider.id, user_id=new.id)
            created = uow.users.find_by_username(new.username)
            if created is None or created.password_hash != NO_PASSWORD:
                # Never hand an existing local account to an upstream login by its name.
                raise UpstreamError(f"username {new.username[:80]!r} belongs to a local user")
            uow.upstream_accounts.insert_if_absent(provider.id, subject, created.id, now)
            user_id = uow.upstream_accounts.find_user_id(provider.id, subject)
        user = uow.users.find(user_id) if user_id is not None else None
        if user is None:
            raise UpstreamError("the linked user is gone")
        return user


def _new_user(uow: UnitOfWork, ctx: AppContext, provider_id: str, subject: str) -> User:
    username = f"{provider_id}:{subject}"
    if len(username) > _USERNAME_MAX:
        username = f"{provider_id}:{hashlib.sha256(subject.encode()).hexdigest()}"
    kurtid = ctx.random.digits(12)
    while kurtid.startswith("0") or uow.users.kurtid_taken(kurtid):
        kurtid = ctx.random.digits(12)
    return User(
        id=_uuid_of(ctx.random.hex_id(16)),
        username=username,
        # Not an argon2 hash: no password ever matches it.
        password_hash=NO_PASSWORD,
        kurtid=kurtid,
        analytics_uuid=_uuid_of(ctx.random.hex_id(16)),
        tnuids=(_uuid_of(ctx.random.hex_id(16)),),
    )


def _uuid_of(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"
