"""The developer portal's apps: create one for a company, see its settings and copy-paste
examples, change it, rotate or revoke its secrets, delete it, and ask for API products.

A secret is shown once: in the answer to the POST that made it (create, rotate), never after a
redirect and never on a GET, so a reload or the back button does not bring it back; the pages
are `no-store`, and htmx keeps no copy of them (staff/layout.html).
"""

from __future__ import annotations

import shlex
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from idplus.entry import run_blocking
from idplus.errors import Conflict, ValidationError
from idplus.manage import api_products, apps, clients, companies, subscriptions
from idplus.models import SUBSCRIPTION_PENDING, Client
from idplus.policies import (
    CLIENT_TYPE_RULES,
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_REFRESH_TOKEN,
)
from idplus.ui.portal import PORTAL, company_path
from idplus.ui.staff_pages import Staff, staff_page

NEW_APP_PATH = "/portal/apps/new"
# The grants an app's form offers (the rest are an operator's, through the CLI or the API).
GRANTS = (GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_CLIENT_CREDENTIALS)
# How long the old secret keeps working after a rotation, as the form offers it (hours).
OVERLAP_HOURS = ("24", "1", "0", "168")
# The app's latest subscription requests its page shows (the pending ones besides, always).
REQUESTS_SHOWN = 50

MESSAGES = {
    "type_Confidential": "Confidential: a server that keeps a secret",
    "type_Public": "Public: a browser app without a secret, no refresh tokens",
    "type_PublicWithRefresh": "Public with refresh tokens: a browser app without a secret",
    "type_MobileApp": "Mobile app: an iOS or Android app without a secret",
    "app_created": "The app is created.",
    "app_changed": "The app's settings are saved.",
    "app_deleted": "The app is deleted. Its tokens no longer work.",
    "secret_revoked": "The old secret no longer works.",
    "requested": "The request is sent. An operator will answer it.",
    "request_cancelled": "The request is withdrawn.",
    "delete_app": "Delete the app %(app)s? Its tokens stop working at once.",
    "rotate_secret": "Make a new secret for %(app)s? The old one keeps working for the time "
    "you chose, then stops.",
    "revoke_secret": "Stop the old secret %(secret)s now? Anything still using it is refused.",
    "delete": "Yes, delete it",
    "rotate": "Yes, make a new secret",
    "revoke": "Yes, stop it",
    "overlap_24": "24 hours",
    "overlap_1": "1 hour",
    "overlap_0": "No time: it stops now",
    "overlap_168": "7 days",
    "status_pending": "Waiting for an operator",
    "status_approved": "Approved",
    "status_rejected": "Rejected",
}
NOTICES = {
    k: MESSAGES[k]
    for k in (
        "app_created",
        "app_changed",
        "app_deleted",
        "secret_revoked",
        "requested",
        "request_cancelled",
    )
}
TYPES = tuple(t.value for t in CLIENT_TYPE_RULES)


def app_path(client_id: str) -> str:
    return f"/portal/apps/{client_id}"


async def apps_of_company(staff: Staff, company_id: str) -> list[dict[str, str]]:
    """The company's apps for its page (the first 200: a company has a handful)."""
    listed = await run_blocking(
        lambda: apps.list_apps(staff.server.store, staff.caller, company_id=company_id, limit=200)
    )
    return [
        {
            "client_id": c.client_id,
            "url": app_path(c.client_id),
            "name": c.name,
            "type": c.client_type.value,
        }
        for c in listed
    ]


# A new app


@staff_page(PORTAL)
async def show_new_app(staff: Staff) -> Response:
    company_id = staff.query("company_id")
    return await _new_app_page(staff, company_id)


async def _new_app_page(
    staff: Staff, company_id: str, status_code: int = 200, **context: Any
) -> Response:
    view = await run_blocking(companies.get_company, staff.server.store, staff.caller, company_id)
    context.setdefault("values", {"type": "Confidential", "grant_types": [], "name": ""})
    return staff.render(
        "portal/app_new.html",
        status_code=status_code,
        company={"id": view.company.id, "name": view.company.name, "url": company_path(company_id)},
        types=[(t, staff.text(MESSAGES[f"type_{t}"])) for t in TYPES],
        grants=GRANTS,
        **context,
    )


@staff_page(PORTAL)
async def create_app(staff: Staff) -> Response:
    company_id = staff.field("company_id")
    if staff.field("action") != "create":
        return staff.error("refused", 400)
    values: dict[str, Any] = {
        "name": staff.field("name"),
        "type": staff.field("type"),
        "grant_types": staff.fields("grant_types"),
        "redirect_uris": "\n".join(staff.lines("redirect_uris")),
        "post_logout_redirect_uris": "\n".join(staff.lines("post_logout_redirect_uris")),
    }
    request = apps.AppRequest(
        name=staff.field("name"),
        company_id=company_id,
        type=staff.field("type"),
        grant_types=staff.fields("grant_types"),
        redirect_uris=staff.lines("redirect_uris"),
        post_logout_redirect_uris=staff.lines("post_logout_redirect_uris"),
    )
    server = staff.server
    try:
        registered = await run_blocking(
            apps.create_app, server.store, server.clock, staff.caller, request
        )
    except ValidationError as refused:
        return await _new_app_page(
            staff, company_id, 400, values=values, problem=staff.problem(refused)
        )
    # The secret goes out in this answer only; a reload of the app's page never shows it.
    return await app_page(
        staff,
        registered.client,
        secret=registered.client_secret,
        notice=staff.text(MESSAGES["app_created"]),
        status_code=201,
    )


# One app


@staff_page(PORTAL)
async def show_app(staff: Staff) -> Response:
    app = await _app(staff)
    return await app_page(staff, app, notice=staff.notice(NOTICES))


async def _app(staff: Staff) -> Client:
    client_id = str(staff.request.path_params["client_id"])
    return await run_blocking(apps.get_app, staff.server.store, staff.caller, client_id)


async def app_page(
    staff: Staff,
    app: Client,
    *,
    secret: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    server = staff.server
    assert app.company_id is not None, "an app belongs to a company"
    view = await run_blocking(companies.get_company, server.store, staff.caller, app.company_id)
    products = await run_blocking(api_products.list_api_products, server.store)
    requests = await _requests_of(staff, app.client_id)
    current = clients.current_secret(app)
    return staff.render(
        "portal/app.html",
        status_code=status_code,
        app=_settings(app),
        # Every change's form carries the version it was made on: a form sent again (a
        # reload of the answer, a second tab) after the app changed is refused, not redone.
        version=clients.client_version(app),
        company={"name": view.company.name, "url": company_path(app.company_id)},
        secret=secret,
        secrets=[
            {
                "id": s.id,
                "created": staff.when(s.created_at),
                "expires": staff.when(s.expires_at) if s.expires_at else None,
                "current": s == current,
            }
            for s in app.secrets
        ],
        overlaps=[(h, staff.text(MESSAGES[f"overlap_{h}"])) for h in OVERLAP_HOURS],
        examples=_examples(staff, app),
        subscribed=list(app.api_products),
        requests=requests,
        products=[
            {"scope": p.scope, "name": p.name}
            for p in products
            if p.scope not in app.api_products
            and not any(r["scope"] == p.scope and r["pending"] for r in requests)
        ],
        # A page answering a POST: the language switch comes back to the app's own page.
        switch_back_to=app_path(app.client_id),
        **context,
    )


def _settings(app: Client) -> dict[str, Any]:
    return {
        "client_id": app.client_id,
        "name": app.name,
        "type": app.client_type.value,
        "confidential": app.rules.is_confidential,
        "grant_types": list(app.grant_types),
        "scopes": list(app.scopes),
        "redirect_uris": list(app.redirect_uris),
        "post_logout_redirect_uris": list(app.post_logout_redirect_uris),
        "environment": app.environment,
    }


def _examples(staff: Staff, app: Client) -> dict[str, str | None]:
    """Copy-paste examples with this app's values (and $CLIENT_SECRET, never the secret)."""
    issuer = staff.server.settings.issuer
    client_credentials = None
    if GRANT_CLIENT_CREDENTIALS in app.grant_types:
        lines = [
            f"curl -s {shlex.quote(issuer + '/connect/token')}",
            f'  -u "{app.client_id}:$CLIENT_SECRET"',
            "  -d grant_type=client_credentials",
        ]
        if app.api_products:
            lines.append(f"  -d scope={shlex.quote(' '.join(app.api_products))}")
        client_credentials = " \\\n".join(lines)
    authorize = None
    if GRANT_AUTHORIZATION_CODE in app.grant_types and app.redirect_uris:
        authorize = f"{issuer}/connect/authorize?" + urlencode(
            {
                "client_id": app.client_id,
                "response_type": "code",
                "redirect_uri": app.redirect_uris[0],
                "scope": "openid",
                "state": "STATE",
                "code_challenge": "YOUR_S256_CHALLENGE",
                "code_challenge_method": "S256",
            }
        )
    return {
        "discovery": f"{issuer}/.well-known/openid-configuration",
        "client_credentials": client_credentials,
        "authorize": authorize,
    }


async def _requests_of(staff: Staff, client_id: str) -> list[dict[str, Any]]:
    """The app's subscription requests, newest first: the latest ones and every pending one
    (its history may be long; what waits is always shown)."""
    mine = await run_blocking(
        lambda: subscriptions.requests_of_app(
            staff.server.store, staff.caller, client_id, limit=REQUESTS_SHOWN
        )
    )
    return [
        {
            "id": r.id,
            "scope": r.scope,
            "status": staff.text(MESSAGES[f"status_{r.status}"])
            if f"status_{r.status}" in MESSAGES
            else r.status,
            "pending": r.status == SUBSCRIPTION_PENDING,
            "requested": staff.when(r.requested_at),
            "reason": r.reason or "",
        }
        for r in mine
    ]


@staff_page(PORTAL)
async def act_on_app(staff: Staff) -> Response:
    app = await _app(staff)
    handler = _APP_ACTIONS.get(staff.field("action"))
    if handler is None:
        return staff.error("refused", 400)
    try:
        return await handler(staff, app)
    except (ValidationError, Conflict) as refused:
        status = 409 if isinstance(refused, Conflict) else 400
        return await app_page(staff, app, status_code=status, problem=staff.problem(refused))


def _expected(staff: Staff) -> list[str] | None:
    """The version the form was made on (see `app_page`); none: the form did not say."""
    version = staff.field("version")
    return [version] if version else None


async def _update(staff: Staff, app: Client) -> Response:
    changes = {
        "name": staff.field("name"),
        "redirect_uris": staff.lines("redirect_uris"),
        "post_logout_redirect_uris": staff.lines("post_logout_redirect_uris"),
    }
    server = staff.server
    await run_blocking(
        lambda: apps.update_app(
            server.store, server.clock, staff.caller, app.client_id, changes,
            expected_versions=_expected(staff),
        )
    )  # fmt: skip
    return staff.see_other(app_path(app.client_id), notice="app_changed")


async def _rotate(staff: Staff, app: Client) -> Response:
    hours = staff.field("overlap_hours") or "24"
    if hours not in OVERLAP_HOURS:
        return staff.error("refused", 400)
    if not staff.confirmed():
        return staff.confirm(
            staff.text(MESSAGES["rotate_secret"], app=app.name),
            action="rotate",
            button=staff.text(MESSAGES["rotate"]),
            fields={"overlap_hours": hours, "version": staff.field("version")},
            back=app_path(app.client_id),
        )
    server = staff.server
    rotated = await run_blocking(
        lambda: apps.rotate_app_secret(
            server.store, server.clock, staff.caller, app.client_id,
            overlap=timedelta(hours=int(hours)), expected_versions=_expected(staff),
        )
    )  # fmt: skip
    # Shown in this answer only (see the module's docstring).
    return await app_page(staff, rotated.client, secret=rotated.client_secret)


async def _revoke_secret(staff: Staff, app: Client) -> Response:
    secret_id = staff.field("secret_id")
    if not staff.confirmed():
        return staff.confirm(
            staff.text(MESSAGES["revoke_secret"], secret=secret_id),
            action="revoke_secret",
            button=staff.text(MESSAGES["revoke"]),
            fields={"secret_id": secret_id, "version": staff.field("version")},
            back=app_path(app.client_id),
        )
    server = staff.server
    await run_blocking(
        lambda: apps.revoke_app_secret(
            server.store, server.clock, staff.caller, app.client_id, secret_id,
            expected_versions=_expected(staff),
        )
    )  # fmt: skip
    return staff.see_other(app_path(app.client_id), notice="secret_revoked")


async def _delete(staff: Staff, app: Client) -> Response:
    if not staff.confirmed():
        return staff.confirm(
            staff.text(MESSAGES["delete_app"], app=app.name),
            action="delete",
            button=staff.text(MESSAGES["delete"]),
            fields={"version": staff.field("version")},
            back=app_path(app.client_id),
        )
    server = staff.server
    await run_blocking(
        lambda: apps.delete_app(
            server.store, server.clock, staff.caller, app.client_id,
            expected_versions=_expected(staff),
        )
    )  # fmt: skip
    assert app.company_id is not None
    return staff.see_other(company_path(app.company_id), notice="app_deleted")


async def _request_api(staff: Staff, app: Client) -> Response:
    server = staff.server
    await run_blocking(
        subscriptions.request_subscription,
        server.store, server.clock, staff.caller, app.client_id, staff.field("scope"),
    )  # fmt: skip
    return staff.see_other(app_path(app.client_id), notice="requested")


async def _cancel_request(staff: Staff, app: Client) -> Response:
    server = staff.server
    await run_blocking(
        subscriptions.cancel, server.store, server.clock, staff.caller, staff.field("request_id")
    )
    return staff.see_other(app_path(app.client_id), notice="request_cancelled")


_APP_ACTIONS = {
    "update": _update,
    "rotate": _rotate,
    "revoke_secret": _revoke_secret,
    "delete": _delete,
    "request_api": _request_api,
    "cancel_request": _cancel_request,
}
