"""POST custom_logout_endpoint: logout for native apps without a browser (SPEC §7).

Body `{"id_token_hint": …, "state": …}` as JSON. Answers, each a JSON string:
200 the state (a session was found and ended), 200 "Already logged out", 400
"id_token_hint is null", 401 "Invalid token", and 424 "Upstream logout failed" when the
session came from an upstream provider whose refresh token could not be revoked (RFC 7009):
the idplus session has ended all the same, and the failure is logged.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse

from idplus.entry import context_of, run_blocking
from idplus.protocol.federation.logout import revoke_upstream_sessions
from idplus.protocol.oidc.end_session import (
    InvalidIdTokenHint,
    LogoutVia,
    end_sessions,
    logged_out,
    read_id_token_hint,
)
from idplus.web.adapters import NO_STORE

MAX_BODY = 16 * 1024


async def native_logout(request: Request) -> JSONResponse:
    server = context_of(request)
    body = await request.body()
    try:
        document = json.loads(body) if len(body) <= MAX_BODY else None
    except (ValueError, RecursionError):  # also JSONDecodeError, UnicodeDecodeError; `[[[…`
        document = None
    if not isinstance(document, dict):
        return _answer("Request body must be a JSON object", 400)
    token, state = document.get("id_token_hint"), document.get("state")
    if not isinstance(token, str) or not token:
        return _answer("id_token_hint is null", 400)
    try:
        hint = await run_blocking(read_id_token_hint, server, token)
    except InvalidIdTokenHint:
        return _answer("Invalid token", 401)
    sessions = [hint.session_id] if hint.session_id else []
    audit = logged_out(LogoutVia.NATIVE, hint.client_id)
    ended = await run_blocking(
        lambda: end_sessions(server, sessions, initiator=hint.client_id, audit=audit)
    )
    if not ended:
        return _answer("Already logged out", 200)
    upstreams = [e.upstream for e in ended if e.upstream is not None]
    if upstreams and not await run_blocking(revoke_upstream_sessions, server, upstreams):
        return _answer("Upstream logout failed", 424)
    # The session's other clients are told by the outbox (enqueued as the session ended).
    return _answer(state if isinstance(state, str) else "", 200)


def _answer(message: str, status_code: int) -> JSONResponse:
    return JSONResponse(message, status_code=status_code, headers=NO_STORE)
