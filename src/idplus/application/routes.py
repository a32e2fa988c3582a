"""The whole route table. An endpoint with a discovery name appears in discovery; no other does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from idplus.gateway import endpoints as gateway
from idplus.protocol.ciba.request import APPROVAL_PATH
from idplus.protocol.device import VERIFICATION_PATH
from idplus.protocol.self_service import ACCOUNT_PATH
from idplus.ui import (
    account,
    authorize,
    ciba_approval,
    console,
    console_people,
    console_users,
    debugger,
    device,
    end_session,
    favicon,
    federation,
    home,
    language,
    login,
    logout,
    password_reset,
    portal,
    portal_apps,
    staff_pages,
    webauthn,
)
from idplus.web import admin_api
from idplus.web.endpoints import (
    ciba,
    device_authorization,
    discovery,
    health,
    introspection,
    metrics,
    native_logout,
    par,
    revocation,
    self_service,
    token,
    userinfo,
)

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    handler: Handler
    methods: tuple[str, ...] = ("GET",)
    # The discovery metadata name this endpoint is published under, if any.
    discovery_name: str | None = None


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(home.HOME_PATH, home.on_issuer_host(home.show_home)),
    Endpoint("/.well-known/openid-configuration", discovery.openid_configuration),
    Endpoint("/.well-known/jwks.json", discovery.jwks, discovery_name="jwks_uri"),
    Endpoint(
        "/connect/authorize",
        authorize.authorize,
        ("GET", "POST"),
        discovery_name="authorization_endpoint",
    ),
    Endpoint("/connect/token", token.token, ("POST",), discovery_name="token_endpoint"),
    Endpoint(
        "/connect/par",
        par.pushed_authorization_request,
        ("POST",),
        discovery_name="pushed_authorization_request_endpoint",
    ),
    Endpoint(
        "/connect/userinfo",
        userinfo.userinfo,
        ("GET", "POST"),
        discovery_name="userinfo_endpoint",
    ),
    Endpoint(
        "/connect/revocation",
        revocation.revocation,
        ("POST",),
        discovery_name="revocation_endpoint",
    ),
    Endpoint(
        "/connect/introspect",
        introspection.introspection,
        ("POST",),
        discovery_name="introspection_endpoint",
    ),
    Endpoint(
        "/connect/endsession",
        end_session.end_session,
        ("GET", "POST"),
        discovery_name="end_session_endpoint",
    ),
    Endpoint(
        "/connect/logout",
        native_logout.native_logout,
        ("POST",),
        discovery_name="custom_logout_endpoint",
    ),
    Endpoint(logout.LOGOUT_PATH, logout.confirm_logout, ("POST",)),
    Endpoint(logout.LOGGED_OUT_PATH, logout.show_logged_out),
    Endpoint(
        "/connect/deviceauthorization",
        device_authorization.device_authorization,
        ("POST",),
        discovery_name="device_authorization_endpoint",
    ),
    Endpoint(
        "/api/meta/v1/self-service",
        self_service.self_service,
        discovery_name="self_service_endpoint",
    ),
    Endpoint(
        "/connect/ciba",
        ciba.backchannel_authentication,
        ("POST",),
        discovery_name="backchannel_authentication_endpoint",
    ),
    Endpoint("/connect/ciba/prepare", ciba.prepare, ("POST",)),
    Endpoint(APPROVAL_PATH, ciba_approval.show_approval),
    Endpoint(APPROVAL_PATH, ciba_approval.decide_approval, ("POST",)),
    Endpoint(ACCOUNT_PATH, account.show_account),
    Endpoint(ACCOUNT_PATH, account.act, ("POST",)),
    Endpoint(VERIFICATION_PATH, device.show_device),
    Endpoint(VERIFICATION_PATH, device.decide, ("POST",)),
    Endpoint(device.QR_PATH, device.show_qr),
    Endpoint(language.LANGUAGE_PATH, language.switch_language),
    Endpoint(login.LOGIN_PATH, login.show_login),
    Endpoint(login.LOGIN_PATH, login.submit_login, ("POST",)),
    Endpoint(webauthn.LOGIN_OPTIONS_PATH, webauthn.login_options, ("POST",)),
    Endpoint(webauthn.LOGIN_VERIFY_PATH, webauthn.login_verify, ("POST",)),
    Endpoint(webauthn.REGISTER_OPTIONS_PATH, webauthn.register_options, ("POST",)),
    Endpoint(webauthn.REGISTER_VERIFY_PATH, webauthn.register_verify, ("POST",)),
    Endpoint(password_reset.RESET_PATH, password_reset.show_reset),
    Endpoint(password_reset.RESET_PATH, password_reset.submit_reset, ("POST",)),
    Endpoint(password_reset.EMAIL_LINK_PATH, password_reset.show_email_link),
    Endpoint(password_reset.EMAIL_LINK_PATH, password_reset.use_email_link, ("POST",)),
    Endpoint(federation.CALLBACK_PATH, federation.upstream_callback),
    Endpoint(federation.LOGGED_OUT_PATH, federation.upstream_logged_out),
    # The debugger's callback comes back to the issuer: start it under the issuer's name.
    Endpoint(debugger.DEBUGGER_PATH, home.on_issuer_host(debugger.show_debugger)),
    Endpoint(debugger.DEBUGGER_PATH, debugger.start_flow, ("POST",)),
    Endpoint(debugger.CALLBACK_PATH, debugger.callback, ("GET", "POST")),
    Endpoint(debugger.RESULT_PATH, debugger.show_result),
    Endpoint("/oauth/v2/token", gateway.token, ("POST",)),
    Endpoint("/oauth/v2/logout", gateway.logout),
    Endpoint("/oauth/v2/authorize", gateway.authorize),
    Endpoint(favicon.FAVICON_PATH, favicon.favicon),
    # The htmx the portal's and the console's pages load; the operator console (ui/console*.py).
    Endpoint(staff_pages.STATIC_PATH, staff_pages.htmx_script),
    Endpoint("/admin", console.show_dashboard),
    Endpoint("/admin/clients", console.show_clients),
    Endpoint("/admin/clients/{client_id}", console.show_client),
    Endpoint("/admin/clients/{client_id}", console.act_on_client, ("POST",)),
    Endpoint("/admin/api-products", console.show_api_products),
    Endpoint("/admin/api-products", console.act_on_api_products, ("POST",)),
    Endpoint("/admin/keys", console.show_keys),
    Endpoint("/admin/keys", console.act_on_keys, ("POST",)),
    Endpoint("/admin/audit", console.show_audit),
    Endpoint("/admin/users", console_users.show_users),
    Endpoint("/admin/users/{user_id}", console_users.show_user),
    Endpoint("/admin/users/{user_id}", console_users.act_on_user, ("POST",)),
    Endpoint("/admin/sessions", console_people.show_sessions),
    Endpoint("/admin/sessions", console_people.act_on_sessions, ("POST",)),
    Endpoint(console.CALLBACK_PATH, console.show_callback),
    # The developer portal (ui/portal.py, ui/portal_apps.py).
    Endpoint("/portal", portal.show_home),
    Endpoint(portal.CALLBACK_PATH, portal.show_callback),
    Endpoint("/portal/companies/new", portal.show_new_company),
    Endpoint("/portal/companies/new", portal.create_company, ("POST",)),
    Endpoint("/portal/companies/{company_id}", portal.show_company),
    Endpoint("/portal/companies/{company_id}", portal.act_on_company, ("POST",)),
    Endpoint(portal.INVITATIONS_PATH, portal.show_invitation),
    Endpoint(portal.INVITATIONS_PATH, portal.accept_invitation, ("POST",)),
    Endpoint("/portal/apps/new", portal_apps.show_new_app),
    Endpoint("/portal/apps/new", portal_apps.create_app, ("POST",)),
    Endpoint("/portal/apps/{client_id}", portal_apps.show_app),
    Endpoint("/portal/apps/{client_id}", portal_apps.act_on_app, ("POST",)),
    Endpoint("/healthz", health.healthz),
    Endpoint("/readyz", health.readyz),
    Endpoint("/metrics", metrics.metrics),
)


# Paths programs call: an unknown one gets a JSON error, every other one a page.
API_PREFIXES = ("/connect", "/oauth/v2", "/admin/api", "/webauthn", "/api", "/.well-known")
NOT_FOUND_BODY = {"error": "not_found", "error_description": "no endpoint at this path"}


def _is_api_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in API_PREFIXES)


async def not_found(request: Request, _exc: Exception) -> Response:
    """What an unknown path answers (Starlette raises 404 when no route matches)."""
    if _is_api_path(request.url.path):
        return JSONResponse(NOT_FOUND_BODY, status_code=404, headers={"Cache-Control": "no-store"})
    return await home.show_not_found(request)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """A known path called with another method: JSON for programs, Starlette's text else."""
    allow = getattr(exc, "headers", None) or {}
    if _is_api_path(request.url.path):
        body = {"error": "method_not_allowed", "error_description": "not with this method"}
        return JSONResponse(body, status_code=405, headers={"Cache-Control": "no-store", **allow})
    return Response("Method Not Allowed", status_code=405, headers=allow)


def discovery_endpoints() -> dict[str, str]:
    return {e.discovery_name: e.path for e in ENDPOINTS if e.discovery_name}


def starlette_routes() -> list[Route]:
    own = [Route(e.path, e.handler, methods=list(e.methods)) for e in ENDPOINTS]
    return [*own, *admin_api.ROUTES]


def route_labels() -> dict[Handler, str]:
    """Endpoint → its path template, the low-cardinality label metrics are kept under."""
    labels = {e.handler: e.path for e in ENDPOINTS}
    labels.update({route.endpoint: route.path for route in admin_api.ROUTES})
    return labels
