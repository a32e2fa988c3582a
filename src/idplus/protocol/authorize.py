"""The authorization endpoint's request validation (RFC 6749 §4.1.1, OIDC Core §3.1.2.1-2).

Problems with client_id or redirect_uri raise FatalAuthorizeError: the user sees a page and
is never redirected to an unverified URI. Every later problem is an OAuthError that goes back
to the (now verified) redirect URI, wrapped in RedirectableError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from idplus.errors import (
    FatalAuthorizeError,
    InvalidRequest,
    OAuthError,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from idplus.models import AuthorizationRequest, Client
from idplus.policies import ClientType
from idplus.protocol import pkce
from idplus.protocol.assurance import IDP_PREFIX, level_of_acr
from idplus.protocol.params import Params, split_space_list
from idplus.protocol.scopes import validate_requested_scopes
from idplus.uris import is_loopback_host

RESPONSE_MODES = ("query", "fragment", "form_post")
# OAuth 2.0 Multiple Response Type Encoding Practices §5, normalised to sorted words.
KNOWN_RESPONSE_TYPES = frozenset(
    {"code", "token", "id_token", "code id_token", "code token", "id_token token",
     "code id_token token"}
)  # fmt: skip
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
NORWEGIAN_LOCALES = frozenset({"no", "nb", "nn"})
# Why a request cannot even be answered at its redirect URI, in words for the user's page.
REPEATED = (
    "The request names the app or its return address more than once (client_id or "
    "redirect_uri is repeated)."
)
NO_CLIENT_ID = "The request does not say which app it comes from (client_id is missing)."
UNKNOWN_CLIENT = "The app is not registered with this login service (unknown client_id)."
CIBA_CLIENT = "This app cannot send you to a login page: it is set up to ask on your phone (CIBA)."
NO_REDIRECT_URI = "The request does not say where to send you back (redirect_uri is missing)."
UNREGISTERED_REDIRECT_URI = (
    "The app asked to send you back to an address it has not registered (redirect_uri)."
)
# A pushed request (RFC 9126) the browser brought back: unknown, expired, used, or another
# client's. Without the request the redirect URI is not known, so only a page can say so.
PUSHED_REQUEST_GONE = (
    "The app's login request has expired or was already used. Go back to the app and try again."
)
PUSHED_REQUEST_MALFORMED = (
    "The app refers to its login request in a way this login service does not understand "
    "(request_uri)."
)
FATAL_DESCRIPTIONS = (
    REPEATED, NO_CLIENT_ID, UNKNOWN_CLIENT, CIBA_CLIENT, NO_REDIRECT_URI, UNREGISTERED_REDIRECT_URI,
    PUSHED_REQUEST_GONE, PUSHED_REQUEST_MALFORMED,
)  # fmt: skip
PAR_REQUIRED = "pushed authorization request required"


@dataclass(frozen=True, slots=True)
class RedirectTarget:
    redirect_uri: str
    response_mode: str
    state: str | None


class KnownClientRefused(FatalAuthorizeError):
    """A fatal problem with a request from a registered client: its page may lead back to
    the app (never to the redirect URI asked for, which is not known to be the client's)."""

    def __init__(self, description: str, client: Client, *, detail: str) -> None:
        super().__init__(description, detail=detail)
        self.client = client


class RedirectableError(Exception):
    """An OAuth error to be sent to the client's verified redirect URI."""

    def __init__(self, error: OAuthError, target: RedirectTarget) -> None:
        super().__init__(error.description)
        self.error = error
        self.target = target


def normalise_response_type(value: str) -> str:
    return " ".join(sorted(value.split()))


def validate_client_and_redirect(params: Params, client: Client | None) -> str:
    """The checks whose failure must never redirect; returns the URI to redirect to."""
    return validate_redirect(params, validate_client(params, client))


def validate_client(params: Params, client: Client | None) -> Client:
    """The front channel's client_id (`client` is the one it names, if any); never redirects.

    Each refusal's description is a sentence for the user's page (translated there); its
    detail is for the log.
    """
    if "client_id" in params.repeated or "redirect_uri" in params.repeated:
        raise FatalAuthorizeError(REPEATED, detail="client_id and redirect_uri must be given once")
    if params.get("client_id") is None:
        raise FatalAuthorizeError(NO_CLIENT_ID, detail="client_id is missing")
    if client is None:
        raise FatalAuthorizeError(UNKNOWN_CLIENT, detail="unknown client_id")
    return client


def validate_parameters(
    params: Params, client: Client, fallback_locale: str = "en", *, pushed: bool = False
) -> AuthorizationRequest:
    """The one validation of a known client's authorization request parameters, used by the
    front channel and by /connect/par (`pushed`) alike.

    Raises KnownClientRefused when the redirect URI cannot be trusted, RedirectableError for
    every later problem (the PAR endpoint answers both as JSON instead).
    """
    redirect_uri = validate_redirect(params, client)
    return validate_authorization_request(
        params, client, redirect_uri, fallback_locale, pushed=pushed
    )


def validate_redirect(params: Params, client: Client) -> str:
    """The checks of a known client's request whose failure must never redirect; returns the
    URI to redirect to.

    The returned string is built from the registered URI: it alone goes into the Location,
    the form_post action and the code binding, never the raw parameter.
    """
    if "redirect_uri" in params.repeated:
        raise KnownClientRefused(REPEATED, client, detail="redirect_uri must be given once")
    if client.ciba_enabled:
        raise KnownClientRefused(
            CIBA_CLIENT, client, detail="this client uses CIBA and cannot use browser login"
        )
    requested = params.get("redirect_uri")
    if requested is None:
        raise KnownClientRefused(NO_REDIRECT_URI, client, detail="redirect_uri is missing")
    redirect_uri = registered_redirect_uri(client, requested)
    if redirect_uri is None:
        raise KnownClientRefused(
            UNREGISTERED_REDIRECT_URI,
            client,
            detail="redirect_uri is not registered for this client",
        )
    return redirect_uri


def registered_redirect_uri(client: Client, requested: str) -> str | None:
    """The registered URI `requested` stands for, or None (RFC 9700 §4.1.3: exact match).

    The one exception is RFC 8252 §7.3: a MobileApp's loopback IP redirect may name any port.
    """
    if requested in client.redirect_uris:
        return requested
    if client.client_type is not ClientType.MOBILE_APP or _LOOKALIKE.intersection(requested):
        return None
    for registered in client.redirect_uris:
        candidate = with_requested_port(registered, requested)
        # Byte equality with a URI rebuilt from the registered one: whatever a parser makes of
        # `requested` (userinfo, backslashes, odd encodings), only the port can differ.
        if candidate is not None and candidate == requested:
            return candidate
    return None


# A backslash is a path separator to browsers but not to urlsplit; "@" starts userinfo and
# "#" a fragment. None can appear in a loopback redirect that differs only by port.
_LOOKALIKE = frozenset("\\@#")


def with_requested_port(registered: str, requested: str) -> str | None:
    """`registered` with the port of `requested`, if `registered` is a loopback IP redirect."""
    try:
        reg, req = urlsplit(registered), urlsplit(requested)
        registered_port, port = reg.port, req.port
    except ValueError:
        return None
    host = reg.hostname
    if reg.scheme != "http" or host == "localhost" or not is_loopback_host(host) or port is None:
        return None
    bare_host = reg.netloc if registered_port is None else reg.netloc.rpartition(":")[0]
    return urlunsplit((reg.scheme, f"{bare_host}:{port}", reg.path, reg.query, ""))


def validate_authorization_request(
    params: Params,
    client: Client,
    redirect_uri: str,
    fallback_locale: str = "en",
    *,
    pushed: bool = False,
) -> AuthorizationRequest:
    """Everything after the redirect URI is known; errors are redirectable.

    `fallback_locale` is the page language without `ui_locales` (the browser's choice);
    `pushed`: the parameters came to /connect/par (RFC 9126), not through the browser."""
    response_type = normalise_response_type(params.get("response_type") or "")
    default_mode = "query" if response_type == "code" else "fragment"
    mode = params.get("response_mode") or default_mode
    target = RedirectTarget(
        redirect_uri, mode if mode in RESPONSE_MODES else default_mode, params.get("state")
    )
    ui_locale = choose_ui_locale(params.get("ui_locales"), fallback_locale)
    try:
        if client.require_pushed_authorization_requests and not pushed:
            # RFC 9126 §6: sent to the redirect URI like any other refusal once it is known.
            raise InvalidRequest(PAR_REQUIRED)
        return _validate(params, client, redirect_uri, response_type, mode, ui_locale)
    except OAuthError as error:
        raise RedirectableError(error, target) from error


def _validate(
    params: Params,
    client: Client,
    redirect_uri: str,
    response_type: str,
    response_mode: str,
    ui_locale: str,
) -> AuthorizationRequest:
    params.require_single()
    if params.get("request") is not None:
        raise OAuthError("request objects are not supported", error="request_not_supported")
    if params.get("request_uri") is not None:
        raise OAuthError("request_uri is not supported", error="request_uri_not_supported")
    _validate_response_type(response_type, client)
    if response_mode not in RESPONSE_MODES:
        raise InvalidRequest(f"response_mode must be one of {', '.join(RESPONSE_MODES)}")
    if response_mode == "query" and response_type != "code":
        raise InvalidRequest("tokens must not be returned in the query (use fragment)")
    scope = params.get("scope")
    if scope is None:
        raise InvalidRequest("scope is required")
    scopes = validate_requested_scopes(split_space_list(scope), client)
    prompt = _validate_prompt(params.get("prompt"))
    pkce.validate_challenge(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
        # FAPI 2.0 §5.3.2.2 item 5: a fapi2 client uses PKCE S256 although it authenticates.
        required=(not client.rules.is_confidential or client.is_fapi2)
        and "code" in response_type.split(),
    )
    if "id_token" in response_type.split() and params.get("nonce") is None:
        raise InvalidRequest("nonce is required when an ID token is returned from here")
    acr_values = split_space_list(params.get("acr_values"))
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        response_type=response_type,
        response_mode=response_mode,
        scopes=scopes,
        state=params.get("state"),
        nonce=params.get("nonce"),
        prompt=prompt,
        max_age=_validate_max_age(params.get("max_age")),
        code_challenge=params.get("code_challenge"),
        code_challenge_method=params.get("code_challenge_method") and pkce.S256,
        login_hint=params.get("login_hint"),
        ui_locale=ui_locale,
        acr_values=acr_values,
        requested_aal=max((level_of_acr(v) for v in acr_values), default=0),
        requested_idp=_requested_idp(acr_values),
        dpop_jkt=_validate_dpop_jkt(params.get("dpop_jkt")),
    )


def _validate_dpop_jkt(value: str | None) -> str | None:
    """RFC 9449 §10: the base64url SHA-256 thumbprint (RFC 7638) of the key that alone may
    redeem the code."""
    if value is not None and not _THUMBPRINT.fullmatch(value):
        raise InvalidRequest("dpop_jkt must be a base64url SHA-256 JWK thumbprint")
    return value


_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")


def _validate_response_type(response_type: str, client: Client) -> None:
    if not response_type:
        raise InvalidRequest("response_type is required")
    if response_type not in KNOWN_RESPONSE_TYPES:
        raise UnsupportedResponseType(f"response_type {response_type} is not supported")
    if response_type not in client.response_types:
        raise UnauthorizedClient(f"this client may not use response_type {response_type}")


def _validate_prompt(value: str | None) -> tuple[str, ...]:
    prompt = split_space_list(value)
    unknown = [p for p in prompt if p not in PROMPTS]
    if unknown:
        raise InvalidRequest(f"prompt value {unknown[0]} is not supported")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values")
    return prompt


def _validate_max_age(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise InvalidRequest("max_age must be a non-negative integer")
    return int(value)


def _requested_idp(acr_values: tuple[str, ...]) -> str | None:
    """The provider `acr_values=idp:ID` names. One the client does not allow is kept (the user
    then chooses on the selection page); `acr_values` are voluntary (OIDC Core §3.1.2.1)."""
    chosen = [v[len(IDP_PREFIX) :] for v in acr_values if v.startswith(IDP_PREFIX)]
    return chosen[0] if chosen and chosen[0] else None


def choose_ui_locale(ui_locales: str | None, default: str = "en") -> str:
    """The first supported language of `ui_locales`; English when it names none we speak;
    `default` (the browser's language, chosen by the page) when it is absent."""
    tags = split_space_list(ui_locales)
    if not tags:
        return default
    for tag in tags:
        locale = locale_of_tag(tag)
        if locale is not None:
            return locale
    return "en"


def locale_of_tag(tag: str) -> str | None:
    """ "nb" for a Norwegian language tag (no, nb or nn, with or without region), "en" for an
    English one, None for any other."""
    language = tag.replace("_", "-").split("-")[0].lower()
    if language in NORWEGIAN_LOCALES:
        return "nb"
    return "en" if language == "en" else None
