"""Request → typed input, and protocol results / OAuth errors → HTTP responses.

An OAuthError is rendered here and only here: its public description goes to the client,
its private detail to the log.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse, Response

from idplus.errors import OAuthError
from idplus.logs import get_logger
from idplus.protocol.bearer import (
    InsufficientScope,
    InvalidToken,
    MissingToken,
    ResourceProofRefused,
)
from idplus.protocol.client_auth import ClientAuthenticationFailed
from idplus.protocol.dpop.proof import DPOP_ALGORITHMS, UseDpopNonce

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
REALM = 'realm="idplus"'
# RFC 9449 §7.1: the DPoP challenge names the proof algorithms accepted.
DPOP_CHALLENGE = f'DPoP algs="{" ".join(DPOP_ALGORITHMS)}"'
DPOP_NONCE = "DPoP-Nonce"

log = get_logger("idplus.oauth")


class CompactJSONResponse(JSONResponse):
    """Starlette's JSON (compact, UTF-8, no NaN) written by orjson: the token, introspection
    and userinfo answers are on every hot path, and the standard library's encoder is a
    measurable part of them."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:
            # What orjson cannot write (an integer beyond 64 bits in a legacy claim, say)
            # is written as Starlette would.
            return super().render(content)


def json_response(
    body: dict[str, Any], status_code: int = 200, *, nonce: str | None = None
) -> JSONResponse:
    """`nonce`: the DPoP-Nonce the client's next proof should carry (RFC 9449 §8.2)."""
    headers = NO_STORE if nonce is None else {**NO_STORE, DPOP_NONCE: nonce}
    return CompactJSONResponse(body, status_code=status_code, headers=headers)


def oauth_error_response(error: OAuthError) -> JSONResponse:
    """RFC 6749 §5.2 JSON, with the challenges of RFC 6749 §5.2 and RFC 6750 §3."""
    log.info("oauth_error", error=error.error, detail=error.detail)
    headers = dict(NO_STORE)
    body: dict[str, Any] = {"error": error.error}
    if error.description:
        body["error_description"] = error.description
    if isinstance(error, ClientAuthenticationFailed) and error.basic:
        headers["WWW-Authenticate"] = f"Basic {REALM}"
    elif isinstance(error, MissingToken):
        # Either scheme is welcome (RFC 9449 §7.2): both challenges, in one header.
        headers["WWW-Authenticate"] = f"Bearer {REALM}, {DPOP_CHALLENGE}"
    elif isinstance(error, InvalidToken | InsufficientScope | ResourceProofRefused):
        headers["WWW-Authenticate"] = _challenge(error)
    nonce = error.nonce if isinstance(error, UseDpopNonce | ResourceProofRefused) else None
    if nonce is not None:
        headers[DPOP_NONCE] = nonce
    return CompactJSONResponse(body, status_code=error.status_code, headers=headers)


def _challenge(error: InvalidToken | InsufficientScope | ResourceProofRefused) -> str:
    description = error.description.replace('"', "'")
    parameters = f'error="{error.error}", error_description="{description}"'
    if error.scheme == "DPoP":
        return f"{DPOP_CHALLENGE}, {parameters}"
    return f"Bearer {REALM}, {parameters}"


def empty_response() -> Response:
    return Response(status_code=200, headers=NO_STORE)
