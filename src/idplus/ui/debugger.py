"""/debugger: a built-in relying party for trying flows against this server.

Like the public OIDC debuggers, and a step further: pick a client and options, see the
authorization request (PKCE verifier and S256 challenge, state, nonce) before it is sent,
follow it, and see the token response with each token raw and decoded; then refresh, call
userinfo, introspect (RFC 7662), revoke (RFC 7009) and log out (RP-Initiated Logout with
id_token_hint) with buttons. It calls the endpoints over HTTP as any client does
(ui/debugger_http.py), and remembers a flow and its tokens only in encrypted, short-lived
cookies of the browser that started it (ui/debugger_session.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, run_blocking
from idplus.errors import InvalidClient
from idplus.models import Client
from idplus.protocol.client_auth import ClientCredentials, authenticate_client
from idplus.protocol.context import AppContext
from idplus.protocol.pkce import s256_challenge
from idplus.ui.context import pages_of
from idplus.ui.cookies import browser_id
from idplus.ui.csrf import csrf_token_is_valid
from idplus.ui.debugger_http import Answer, Endpoints
from idplus.ui.debugger_result import BUTTONS, render_result, start_url
from idplus.ui.debugger_result import RESULT_PATH as RESULT_PATH
from idplus.ui.debugger_session import DEBUGGER_PATH as DEBUGGER_PATH
from idplus.ui.debugger_session import (
    Flow,
    Tokens,
    forget_flow,
    read_flow,
    read_tokens,
    save_flow,
    save_tokens,
)
from idplus.ui.debugger_view import AnswerView, Check, answer_view, jwt_parts, pretty
from idplus.ui.i18n import gettext_for
from idplus.ui.language import page_locale

CALLBACK_PATH = "/debugger/callback"
FORM_DEFAULTS = {"scope": "openid profile", "response_mode": "query"}
OPTIONAL_PARAMETERS = ("prompt", "response_mode", "ui_locales", "acr_values", "login_hint")
# Every sentence the debugger's handlers put on a page (English msgids; nb in messages.po).
MESSAGES = {
    "form_check": "The form could not be checked; reload it.",
    "unlisted": "Pick one of the listed clients.",
    "secret_missing": "This is a Confidential client: enter its secret.",
    "secret_public": "This is a public client, it has no secret: leave the field empty.",
    "secret_wrong": "The client secret is wrong: the token endpoint would refuse it.",
    "flow_unknown": "Unknown or expired flow, or a state mismatch.",
    "tokens_gone": "The debugger no longer holds tokens (it keeps them for an hour). Start again.",
    "not_issued": "That token was not issued (a refresh token needs the offline_access scope).",
    "logout_state": "A logout came back with a state this browser did not send.",
    "logged_out": "Logged out: the session ended and the browser came back with the state sent.",
    "check_state": "state came back unchanged",
    "check_iss": "iss is this issuer",
    "check_nonce": "the ID token's nonce is the one sent",
}


def _callback(server: AppContext) -> str:
    return server.settings.issuer + CALLBACK_PATH


def _debuggable_clients(server: AppContext) -> list[Client]:
    with server.store.reading() as uow:
        clients = uow.clients.list_all()
    return [c for c in clients if _callback(server) in c.redirect_uris]


def _locale(request: Request) -> str:
    return page_locale(request)


def _enabled(request: Request) -> AppContext:
    server = context_of(request)
    if not server.settings.debugger_enabled:
        # Like an unknown path: nothing tells a prober that a debugger exists here.
        raise HTTPException(status_code=404)
    return server


async def show_debugger(request: Request) -> Response:
    server = _enabled(request)
    if "state" in request.query_params:
        return await _back_from_logout(request, server)
    clients = await run_blocking(_debuggable_clients, server)
    return _form(request, server, _locale(request), clients)


async def show_result(request: Request) -> Response:
    """GET /debugger/result: the tokens this browser holds, without the answers that came
    with them (those were shown once, to the request that got them)."""
    server = _enabled(request)
    tokens = read_tokens(server, request)
    problem = MESSAGES["tokens_gone"] if tokens is None else None
    return await render_result(request, server, _locale(request), tokens=tokens, problem=problem)


async def start_flow(request: Request) -> Response:
    """POST /debugger: build an authorization request to preview, or press a result button."""
    server, locale = _enabled(request), _locale(request)
    fields = await _fields(request)
    checked = csrf_token_is_valid(
        server.secrets.cookie_key, browser_id(request), fields.get("csrf_token")
    )
    action = fields.get("action", "preview")
    if action in BUTTONS:
        if not checked:
            return pages_of(request).form_check_failed(request, server, locale)
        return await _press(request, server, locale, action)
    clients = await run_blocking(_debuggable_clients, server)
    if not checked:
        return _form(request, server, locale, clients, fields, MESSAGES["form_check"])
    return await _preview(request, server, locale, clients, fields)


async def _fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _form(
    request: Request,
    server: AppContext,
    locale: str,
    clients: Sequence[Client],
    values: dict[str, str] | None = None,
    problem: str | None = None,
) -> Response:
    shown = {k: v for k, v in (values or {}).items() if k not in ("client_secret", "csrf_token")}
    return pages_of(request).render(
        request,
        server,
        "debugger.html",
        locale=locale,
        status_code=400 if problem else 200,
        clients=[
            {"client_id": c.client_id, "name": c.name, "type": c.client_type.value} for c in clients
        ],
        callback=_callback(server),
        values={**FORM_DEFAULTS, **shown},
        problem=gettext_for(locale).gettext(problem) if problem else None,
        start_url=start_url(locale),
    )


async def _preview(
    request: Request,
    server: AppContext,
    locale: str,
    clients: Sequence[Client],
    fields: dict[str, str],
) -> Response:
    """The request the browser will take to the authorization endpoint, before it goes."""
    client = next((c for c in clients if c.client_id == fields.get("client_id")), None)
    if client is None:
        return _form(request, server, locale, clients, fields, MESSAGES["unlisted"])
    secret = fields.get("client_secret") or None
    problem = await run_blocking(_secret_problem, server, client, secret)
    if problem is not None:
        return _form(request, server, locale, clients, fields, problem)
    flow = Flow(
        client_id=client.client_id,
        client_secret=secret,
        state=server.random.handle(16),
        nonce=server.random.handle(16),
        verifier=server.random.handle(48),
        locale=locale,
    )
    params = _authorize_params(server, flow, fields)
    response = pages_of(request).render(
        request,
        server,
        "debugger_preview.html",
        locale=locale,
        url=f"{server.discovery['authorization_endpoint']}?{urlencode(params)}",
        params=list(params.items()),
        flow=flow,
        callback=_callback(server),
        start_url=start_url(locale),
    )
    save_flow(server, response, flow)
    return response


def _secret_problem(server: AppContext, client: Client, secret: str | None) -> str | None:
    """The secret checked as the token endpoint will check it, before anyone logs in for
    nothing; None when it will pass."""
    if client.rules.is_confidential and secret is None:
        return MESSAGES["secret_missing"]
    if not client.rules.is_confidential and secret is not None:
        return MESSAGES["secret_public"]
    if secret is None:
        return None
    try:
        credentials = ClientCredentials(client.client_id, secret, basic=False)
        authenticate_client(
            server.clients.find(client.client_id), credentials, now=server.clock.now()
        )
    except InvalidClient:
        return MESSAGES["secret_wrong"]
    return None


def _authorize_params(server: AppContext, flow: Flow, fields: dict[str, str]) -> dict[str, str]:
    params = {
        "client_id": flow.client_id,
        "redirect_uri": _callback(server),
        "response_type": "code",
        "scope": fields.get("scope") or "openid",
        "state": flow.state,
        "nonce": flow.nonce,
        "code_challenge": s256_challenge(flow.verifier),
        "code_challenge_method": "S256",
    }
    for name in OPTIONAL_PARAMETERS:
        if fields.get(name):
            params[name] = fields[name]
    return params


async def callback(request: Request) -> Response:
    """The redirect URI: check the answer, exchange the code, call userinfo."""
    server = _enabled(request)
    answer = dict(request.query_params)
    if request.method == "POST":
        answer = await _fields(request)
    flow = read_flow(server, request)
    locale = flow.locale if flow else _locale(request)
    if flow is None or answer.get("state") != flow.state:
        return await render_result(request, server, locale, problem=MESSAGES["flow_unknown"])
    came_back = f"{request.method} {CALLBACK_PATH}"
    answers = [AnswerView("Authorization response", came_back, None, pretty(answer))]
    tokens = None
    if "error" not in answer:
        tokens, more = await _redeem(request, server, flow, answer.get("code", ""))
        answers.extend(more)
    checks = _checks(server, flow, answer, tokens)
    response = await render_result(request, server, locale, answers, tokens, checks)
    forget_flow(response)
    if tokens is not None:
        save_tokens(server, response, tokens)
    return response


async def _redeem(
    request: Request, server: AppContext, flow: Flow, code: str
) -> tuple[Tokens | None, list[AnswerView]]:
    endpoints = Endpoints(request.app, server, flow.client_id, flow.client_secret)
    exchanged = await endpoints.exchange_code(code, flow.verifier, _callback(server))
    answers = [answer_view("Token endpoint: authorization_code grant", exchanged)]
    if not exchanged.ok:
        return None, answers
    tokens = Tokens(
        client_id=flow.client_id,
        client_secret=flow.client_secret,
        access_token=None,
        id_token=None,
        refresh_token=None,
        logout_state=server.random.handle(16),
        locale=flow.locale,
    ).refreshed(exchanged.json_object)
    if tokens.access_token is not None:
        answers.append(answer_view("Userinfo", await endpoints.userinfo(tokens.access_token)))
    return tokens, answers


def _checks(
    server: AppContext, flow: Flow, answer: dict[str, str], tokens: Tokens | None
) -> list[Check]:
    """What a careful relying party checks in the answer (RFC 9207, OIDC Core §3.1.3.7)."""
    checks = [Check(MESSAGES["check_state"], True)]
    if "iss" in answer:
        checks.append(Check(MESSAGES["check_iss"], answer["iss"] == server.settings.issuer))
    parts = jwt_parts(tokens.id_token) if tokens and tokens.id_token else None
    if parts is not None:
        checks.append(Check(MESSAGES["check_nonce"], parts[1].get("nonce") == flow.nonce))
    return checks


async def _press(request: Request, server: AppContext, locale: str, action: str) -> Response:
    tokens = read_tokens(server, request)
    if tokens is None:
        return await render_result(request, server, locale, problem=MESSAGES["tokens_gone"])
    endpoints = Endpoints(request.app, server, tokens.client_id, tokens.client_secret)
    answer = await _call(endpoints, tokens, action)
    if answer is None:
        return await render_result(
            request, server, locale, tokens=tokens, problem=MESSAGES["not_issued"]
        )
    if action == "refresh" and answer.ok:
        tokens = tokens.refreshed(answer.json_object)
    response = await render_result(
        request, server, locale, [answer_view(BUTTONS[action], answer)], tokens
    )
    save_tokens(server, response, tokens)
    return response


async def _call(endpoints: Endpoints, tokens: Tokens, action: str) -> Answer | None:
    verb, _, which = action.partition("_")
    token = tokens.refresh_token if "refresh" in (verb, which) else tokens.access_token
    if token is None:
        return None
    if verb == "refresh":
        return await endpoints.refresh(token)
    if verb == "userinfo":
        return await endpoints.userinfo(token)
    hint = f"{which}_token"
    if verb == "introspect":
        return await endpoints.introspect(token, hint)
    return await endpoints.revoke(token, hint)


async def _back_from_logout(request: Request, server: AppContext) -> Response:
    """The post_logout_redirect_uri: the logout's state must be the one this browser sent."""
    tokens = read_tokens(server, request)
    locale = tokens.locale if tokens else _locale(request)
    if tokens is None or request.query_params.get("state") != tokens.logout_state:
        clients = await run_blocking(_debuggable_clients, server)
        return _form(request, server, locale, clients, problem=MESSAGES["logout_state"])
    came_back = pretty(dict(request.query_params))
    back = AnswerView("Back from the logout", f"GET {DEBUGGER_PATH}", None, came_back)
    return await render_result(
        request, server, locale, [back], tokens, notice=MESSAGES["logged_out"]
    )
