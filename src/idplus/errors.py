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
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class ServerError(OAuthError):
    error = "server_error"
    status_code = 500


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
