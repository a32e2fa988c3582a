"""One error family for the whole server.

Every error has a public part (what a client or operator may see) and a private detail (what
goes to the log). Rendering happens in exactly one place per front: web/adapters.py for the
OAuth endpoints and cli/main.py for the command line.
"""

from __future__ import annotations


class IdplusError(Exception):
    """Base of every error idplus raises on purpose."""

    def __init__(self, description: str, *, detail: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.detail = detail or description


class ValidationError(IdplusError):
    """Operator input that cannot be accepted (bad URI, unknown type, duplicate id …)."""


class PreconditionFailed(IdplusError):
    """A change made against a version that is no longer current: someone else changed the
    thing in between (the admin API's If-Match, RFC 9110 §13.1.1)."""


class Forbidden(IdplusError):
    """The caller is known but may not do this (a developer asking for an operator's action,
    a company's developer for an admin's)."""


class Conflict(IdplusError):
    """The change clashes with what exists (a name or scope taken, a request already
    decided)."""


class RateLimited(IdplusError):
    """Too many of one kind of change in a while (invitations per inviter and per company);
    `retry_after`: seconds until the next one is allowed."""

    def __init__(self, description: str, *, retry_after: int, detail: str | None = None) -> None:
        super().__init__(description, detail=detail)
        self.retry_after = retry_after


class Unavailable(IdplusError):
    """Something the change needs is down for now (the e-mail sender): nothing was changed,
    and the same request may succeed later."""


class NotFoundError(IdplusError):
    """An operator named something that does not exist (unknown client, user, key …)."""


class OAuthError(IdplusError):
    """An RFC 6749 style protocol error: `error` code, HTTP status and public description."""

    error = "invalid_request"
    status_code = 400

    def __init__(
        self, description: str = "", *, detail: str | None = None, error: str | None = None
    ) -> None:
        super().__init__(description, detail=detail)
        if error is not None:
            self.error = error


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401


class InvalidGrant(OAuthError):
    """Every invalid_grant reads the same to the client (unknown, used, expired, revoked,
    mismatched …): the reason would tell a token thief what to try next. It goes to the log."""

    error = "invalid_grant"
    PUBLIC_DESCRIPTION = "grant request is invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(self.PUBLIC_DESCRIPTION, detail=reason)


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class FatalAuthorizeError(IdplusError):
    """A problem with client_id or redirect_uri: show an error page, never redirect."""


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class AccessDenied(OAuthError):
    error = "access_denied"
    status_code = 403


class LoginRequired(OAuthError):
    error = "login_required"


class InteractionRequired(OAuthError):
    error = "interaction_required"


class UnmetAuthenticationRequirements(OAuthError):
    """OpenID Connect Unmet Authentication Requirements 1.0: no provider the client may use
    can reach the requested assurance level."""

    error = "unmet_authentication_requirements"


class GatewayError(IdplusError):
    """The API gateway's numbered errors (SPEC §9): HTTP status, code, short text."""

    def __init__(
        self,
        status_code: int,
        code: int,
        error: str,
        description: str,
        *,
        detail: str | None = None,
    ) -> None:
        super().__init__(description, detail=detail)
        self.status_code = status_code
        self.code = code
        self.error = error


def gateway_error(kind: str, description: str | None = None) -> GatewayError:
    status, code, short = GATEWAY_ERRORS[kind]
    return GatewayError(status, code, short, description or short)


# kind → (HTTP status, error_code, error)
GATEWAY_ERRORS: dict[str, tuple[int, int, str]] = {
    "invalid_grant_type": (400, 2, "missing or invalid grant_type"),
    "invalid_client_id": (401, 1, "invalid client id"),
    "invalid_access_token": (401, 2, "invalid access token"),
    "invalid_code": (401, 4, "invalid authorization code"),
    "not_authorized": (401, 5, "not authorized to create access token"),
    "bad_authorization_header": (401, 6, "missing or bad Authorization header"),
    "invalid_refresh_token": (401, 7, "invalid refresh_token"),
    "invalid_client_data": (401, 9, "invalid client data"),
    "grant_not_permitted": (401, 21, "insufficient permissions for the grant type"),
    "basic_auth_failed": (401, 22, "Basic authentication failed"),
    "invalid_scope": (403, 8, "illegal or unauthorized scope"),
    "invalid_redirect_uri": (403, 12, "invalid redirect URI"),
    "illegal_response_type": (403, 15, "illegal response type"),
    "invalid_app_attributes": (500, 16, "invalid app attributes"),
    "internal_error": (500, 2, "internal server error"),
    # Every password-hashing slot is taken; the client retries (Retry-After).
    "busy": (503, 2, "temporarily overloaded, retry later"),
}
