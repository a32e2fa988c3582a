"""What goes back to the client's redirect URI, before a response mode renders it.

Every response carries `iss` (RFC 9207) so a client can tell which server answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from idplus.errors import OAuthError
from idplus.protocol.authorize import RedirectTarget


@dataclass(frozen=True, slots=True)
class AuthorizationResponse:
    redirect_uri: str
    response_mode: str
    params: dict[str, str]


def success_response(
    target: RedirectTarget, issuer: str, values: dict[str, str]
) -> AuthorizationResponse:
    params = dict(values)
    if target.state is not None:
        params["state"] = target.state
    params["iss"] = issuer
    return AuthorizationResponse(target.redirect_uri, target.response_mode, params)


def error_response(target: RedirectTarget, issuer: str, error: OAuthError) -> AuthorizationResponse:
    params = {"error": error.error}
    if error.description:
        params["error_description"] = error.description
    return success_response(target, issuer, params)
