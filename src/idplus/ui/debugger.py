"""/debugger: a built-in relying party for trying flows against this server.

Like the public OIDC debuggers: pick a client and options, run an authorization-code flow
with PKCE, and see the decoded ID and access tokens and the userinfo answer. The flow's
state, nonce, PKCE verifier and any client secret live only in an encrypted, short-lived
cookie of the browser that started it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.entry import context_of
from idplus.errors import OAuthError
from idplus.models import Client
from idplus.protocol.context import AppContext
from idplus.protocol.oidc.userinfo import userinfo
from idplus.protocol.params import parse_params
from idplus.protocol.pkce import s256_challenge
from idplus.protocol.token_endpoint import TokenRequest, handle_token_request
from idplus.ui.context import pages_of
from idplus.ui.cookies import browser_id
from idplus.ui.csrf import csrf_token_is_valid

DEBUGGER_PATH = "/debugger"
CALLBACK_PATH = "/debugger/callback"
COOKIE = "idplus_debugger"
FLOW_SECONDS = 600


def _fernet(server: AppContext) -> Fernet:
    key = hashlib.sha256(server.secrets.cookie_key + b"|debugger").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _callback(server: AppContext) -> str:
    return server.settings.issuer + CALLBACK_PATH


def _debuggable_clients(server: AppContext) -> list[Client]:
    with server.store.reading() as uow:
        clients = uow.clients.list_all()
    return [c for c in clients if _callback(server) in c.redirect_uris]


async def show_debugger(request: Request) -> Response:
    server = context_of(request)
    if not server.settings.debugger_enabled:
        return _disabled(request, server)
    clients = await run_in_threadpool(_debuggable_clients, server)
    return _page(request, server, clients)


def _page(
    request: Request, server: AppContext, clients: list[Client], problem: str | None = None
) -> Response:
    return pages_of(request).render(
        request,
        server,
        "debugger.html",
        locale="en",
        status_code=400 if problem else 200,
        clients=[{"client_id": c.client_id, "type": c.client_type.value} for c in clients],
        callback=_callback(server),
        problem=problem,
    )


async def start_flow(request: Request) -> Response:
    server = context_of(request)
    if not server.settings.debugger_enabled:
        return _disabled(request, server)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_token_is_valid(
        server.secrets.cookie_key, browser_id(request), fields.get("csrf_token")
    ):
        clients = await run_in_threadpool(_debuggable_clients, server)
        return _page(request, server, clients, "The form could not be checked; reload it.")
    flow = {
        "client_id": fields.get("client_id", ""),
        "client_secret": fields.get("client_secret") or None,
        "state": server.random.handle(16),
        "nonce": server.random.handle(16),
        "verifier": server.random.handle(48),
    }
    params = {
        "client_id": flow["client_id"],
        "redirect_uri": _callback(server),
        "response_type": "code",
        "scope": fields.get("scope") or "openid",
        "state": flow["state"],
        "nonce": flow["nonce"],
        "code_challenge": s256_challenge(str(flow["verifier"])),
        "code_challenge_method": "S256",
    }
    for name in ("prompt", "response_mode", "ui_locales", "acr_values", "login_hint"):
        if fields.get(name):
            params[name] = fields[name]
    response = RedirectResponse(f"/connect/authorize?{urlencode(params)}", status_code=303)
    response.set_cookie(
        COOKIE,
        _fernet(server).encrypt(json.dumps(flow).encode()).decode(),
        max_age=FLOW_SECONDS,
        httponly=True,
        samesite="lax",
        secure=server.settings.issuer_is_https,
        path=DEBUGGER_PATH,
    )
    return response


async def callback(request: Request) -> Response:
    server = context_of(request)
    if not server.settings.debugger_enabled:
        return _disabled(request, server)
    answer = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        answer = {k: v for k, v in form.items() if isinstance(v, str)}
    flow = _read_flow(server, request)
    if flow is None or answer.get("state") != flow["state"]:
        return _result(request, server, [], "Unknown or expired flow, or a state mismatch.")
    if "error" in answer:
        sections = [{"title": "Authorization error", "body": _pretty(answer)}]
        return _result(request, server, sections, None)
    sections = await run_in_threadpool(_redeem, server, flow, answer.get("code", ""))
    response = _result(request, server, sections, None)
    response.delete_cookie(COOKIE, path=DEBUGGER_PATH)
    return response


def _read_flow(server: AppContext, request: Request) -> dict[str, Any] | None:
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        flow: dict[str, Any] = json.loads(_fernet(server).decrypt(value.encode(), FLOW_SECONDS))
    except (InvalidToken, ValueError):
        return None
    return flow


def _redeem(server: AppContext, flow: dict[str, Any], code: str) -> list[dict[str, str]]:
    """Exchange the code through the token endpoint's own pipeline, then call userinfo."""
    items = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", _callback(server)),
        ("code_verifier", flow["verifier"]),
    ]
    authorization = None
    if flow.get("client_secret"):
        pair = f"{flow['client_id']}:{flow['client_secret']}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode()
    else:
        items.append(("client_id", flow["client_id"]))
    ring = server.keys.current()
    try:
        tokens = handle_token_request(
            server, ring, TokenRequest(authorization, parse_params(items))
        )
    except OAuthError as error:
        return [{"title": "Token endpoint error", "body": _pretty(_error(error))}]
    sections = [{"title": "Token response", "body": _pretty(tokens.to_json())}]
    if tokens.id_token:
        sections.append({"title": "ID token", "body": _pretty(_decoded(ring, tokens.id_token))})
    sections.append({"title": "Access token", "body": _pretty(_decoded(ring, tokens.access_token))})
    try:
        claims = userinfo(server, ring, tokens.access_token)
    except OAuthError as error:
        claims = _error(error)
    sections.append({"title": "Userinfo", "body": _pretty(claims)})
    return sections


def _decoded(ring: Any, token: str) -> dict[str, Any]:
    decoded = ring.verify(token)
    return {"header": decoded.header, "claims": decoded.claims, "signature": "verified"}


def _error(error: OAuthError) -> dict[str, str]:
    return {"error": error.error, "error_description": error.description}


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _result(
    request: Request,
    server: AppContext,
    sections: list[dict[str, str]],
    problem: str | None,
) -> Response:
    return pages_of(request).render(
        request,
        server,
        "debugger_result.html",
        locale="en",
        status_code=400 if problem else 200,
        sections=sections,
        problem=problem,
    )


def _disabled(request: Request, server: AppContext) -> Response:
    # Like an unknown path: nothing tells a prober that a debugger exists here.
    raise HTTPException(status_code=404)
