"""The operator console (/admin): pages over the same use-cases as the admin API and the CLI.

Operators log in through the built-in console client; a user without the operator role gets a
plain 403 page. This module: the dashboard, clients, API products, signing keys and the audit
trail; console_people.py: users and sessions.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import run_blocking
from idplus.errors import IdplusError, ValidationError
from idplus.manage import api_products, audit, clients, keys
from idplus.models import SIGNING_ALGORITHMS, AuditEvent, Client
from idplus.policies import ADMIN_SCOPE, BUILT_IN_CLIENT_IDS, CONSOLE_CLIENT_ID
from idplus.ui.staff_pages import (
    MAX_QUERY,
    PAGE_SIZE,
    Area,
    BadCursor,
    Staff,
    authorize_example,
    callback_page,
    decode_cursor,
    encode_cursor,
    matches,
    page_after,
    page_url,
    staff_page,
)

CONSOLE = Area("/admin", CONSOLE_CLIENT_ID, "console/layout.html", operators_only=True)
CLIENTS_PATH = "/admin/clients"
API_PRODUCTS_PATH = "/admin/api-products"
KEYS_PATH = "/admin/keys"
AUDIT_PATH = "/admin/audit"
CALLBACK_PATH = "/admin/callback"
# An audit event filter: a name (client.added) or a prefix ending in * (user.*), as the API's.
EVENT_FILTER = re.compile(r"[a-z0-9_.-]{1,64}\*?|\*")
MAX_EVENT_FILTERS = 20
_EVENT_ID = re.compile(r"[1-9][0-9]{0,17}")

MESSAGES = {
    "client_removed": "The client is removed. Its tokens no longer work.",
    "remove_client": "Remove the client %(client)s? Its tokens stop working at once.",
    "remove": "Yes, remove it",
    "product_added": "The API product is added.",
    "keys_rotated": "New signing keys are published. They sign after two key-cache periods.",
    "rotate_all": "Rotate the signing keys of every algorithm?",
    "rotate_one": "Rotate the %(alg)s signing key?",
    "rotate": "Yes, rotate",
    "bad_events": "Give event names (client.added) or prefixes ending in * (user.*), "
    "separated by commas.",
}
NOTICES = {k: MESSAGES[k] for k in ("client_removed", "product_added", "keys_rotated")}


async def show_callback(request: Request) -> Response:
    """The console client's redirect URI: an operator's code for an admin API token."""
    return await callback_page(request, CONSOLE_CLIENT_ID, CALLBACK_PATH, ADMIN_SCOPE)


@staff_page(CONSOLE)
async def show_dashboard(staff: Staff) -> Response:
    """What waits for an operator first (subscription requests), then the sections."""
    server = staff.server
    # The requests' next page swaps their table alone (htmx), as the other tables do.
    return staff.listing(
        "console/index.html",
        "console/_requests.html",
        authorize=authorize_example(
            server.settings.issuer, CONSOLE_CLIENT_ID, CALLBACK_PATH, ADMIN_SCOPE
        ),
        **await _dashboard(staff),
    )


async def _dashboard(staff: Staff) -> dict[str, Any]:
    # The subscription requests come from console_people (over manage/subscriptions).
    from idplus.ui.console_people import NOTICES as DECISIONS
    from idplus.ui.console_people import pending_requests

    return {**await pending_requests(staff, CONSOLE.path), "notice": staff.notice(DECISIONS)}


# Clients


@staff_page(CONSOLE)
async def show_clients(staff: Staff) -> Response:
    search, cursor = staff.query("q")[:MAX_QUERY], staff.query("cursor")
    everyone = await run_blocking(clients.list_clients, staff.server.store)
    found = [c for c in everyone if matches(search, c.client_id, c.name, c.company_id)]
    listing = page_after(found, lambda c: c.client_id, cursor)
    return staff.listing(
        "console/clients.html",
        "console/_clients_table.html",
        search=search,
        rows=[_client_row(c) for c in listing.items],
        next_url=_next(CLIENTS_PATH, listing.next_cursor, q=search),
        notice=staff.notice(NOTICES),
    )


def _client_row(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "url": f"{CLIENTS_PATH}/{client.client_id}",
        "name": client.name,
        "type": client.client_type.value,
        "company_id": client.company_id or "",
    }


def _next(path: str, cursor: str | None, **params: str) -> str | None:
    return page_url(path, {**params, "cursor": cursor}) if cursor else None


@staff_page(CONSOLE)
async def show_client(staff: Staff) -> Response:
    client = await _client(staff)
    return _client_page(staff, client)


def _client_page(staff: Staff, client: Client, **context: Any) -> Response:
    described = clients.describe_client(client)
    return staff.render(
        "console/client.html",
        client=described,
        created=staff.when(client.created_at),
        secrets=[{"id": s.id, "created": staff.when(s.created_at)} for s in client.secrets],
        removable=client.client_id not in BUILT_IN_CLIENT_IDS,
        **context,
    )


async def _client(staff: Staff) -> Client:
    client_id = str(staff.request.path_params["client_id"])
    return await run_blocking(clients.get_client, staff.server.store, client_id)


@staff_page(CONSOLE)
async def act_on_client(staff: Staff) -> Response:
    client = await _client(staff)
    if staff.field("action") != "remove":
        return staff.error("refused", 400)
    if not staff.confirmed():
        return staff.confirm(
            staff.text(MESSAGES["remove_client"], client=client.name or client.client_id),
            action="remove",
            button=staff.text(MESSAGES["remove"]),
        )
    server = staff.server
    try:
        await run_blocking(
            lambda: clients.remove_client(
                server.store, server.clock, client.client_id, actor=staff.caller.actor
            )
        )
    except ValidationError as refused:  # built in, or the last operator
        return _client_page(staff, client, problem=staff.problem(refused), status_code=400)
    return staff.see_other(CLIENTS_PATH, notice="client_removed")


# API products


@staff_page(CONSOLE)
async def show_api_products(staff: Staff) -> Response:
    from idplus.ui.console_people import NOTICES as DECISIONS

    context = await _api_products_context(staff)
    notice = staff.notice({**NOTICES, **DECISIONS})
    return staff.listing(
        "console/api_products.html", "console/_requests.html", notice=notice, **context
    )


async def _api_products_page(staff: Staff, status_code: int = 200, **context: Any) -> Response:
    return staff.render(
        "console/api_products.html",
        status_code=status_code,
        **await _api_products_context(staff),
        **context,
    )


async def _api_products_context(staff: Staff) -> dict[str, Any]:
    from idplus.ui.console_people import pending_requests

    products = await run_blocking(api_products.list_api_products, staff.server.store)
    return {
        "products": [api_products.describe_api_product(p) for p in products],
        **await pending_requests(staff, API_PRODUCTS_PATH),
    }


@staff_page(CONSOLE)
async def act_on_api_products(staff: Staff) -> Response:
    from idplus.ui.console_people import decide_request

    action = staff.field("action")
    if action in ("approve", "reject"):
        # Back to the dashboard or this page, whichever the request was decided on.
        back = staff.field("back") if staff.field("back") == CONSOLE.path else API_PRODUCTS_PATH
        return await decide_request(staff, action, back)
    if action != "add":
        return staff.error("refused", 400)
    scope, name = staff.field("scope"), staff.field("name")
    server = staff.server
    try:
        await run_blocking(
            lambda: api_products.add_api_product(
                server.store, server.clock, scope, name=name or None,
                actor=staff.caller.actor, only_new=True,
            )
        )  # fmt: skip
    except ValidationError as refused:
        return await _api_products_page(
            staff, 400, problem=staff.problem(refused), scope=scope, name=name
        )
    return staff.see_other(API_PRODUCTS_PATH, notice="product_added")


# Signing keys


@staff_page(CONSOLE)
async def show_keys(staff: Staff) -> Response:
    return await _keys_page(staff, notice=staff.notice(NOTICES))


async def _keys_page(staff: Staff, **context: Any) -> Response:
    server = staff.server
    listed = await run_blocking(keys.list_signing_keys, server.store, server.clock)
    return staff.render(
        "console/keys.html",
        keys=listed,
        algorithms=SIGNING_ALGORITHMS,
        **context,
    )


@staff_page(CONSOLE)
async def act_on_keys(staff: Staff) -> Response:
    alg = staff.field("alg")
    if staff.field("action") != "rotate" or (alg and alg not in SIGNING_ALGORITHMS):
        return staff.error("refused", 400)
    if not staff.confirmed():
        one, every = MESSAGES["rotate_one"], MESSAGES["rotate_all"]
        question = staff.text(one, alg=alg) if alg else staff.text(every)
        return staff.confirm(
            question, action="rotate", button=staff.text(MESSAGES["rotate"]), fields={"alg": alg}
        )
    server = staff.server
    await run_blocking(
        lambda: keys.rotate_signing_key(
            server.store, server.settings, server.clock, alg or None, actor=staff.caller.actor
        )
    )
    return staff.see_other(KEYS_PATH, notice="keys_rotated")


# The audit trail


@staff_page(CONSOLE)
async def show_audit(staff: Staff) -> Response:
    filters = {name: staff.query(name)[:MAX_QUERY] for name in ("actor", "event", "since")}
    context: dict[str, Any] = {"filters": filters, "rows": [], "next_url": None}
    status = 200
    try:
        events = await _audit_events(staff, filters)
    except BadCursor:
        raise
    except IdplusError as refused:
        # A filter, not a change: the reason alone (the `since` parser's is in English).
        context["problem"], status = refused.description, 400
    else:
        page = events[:PAGE_SIZE]
        more = len(events) > PAGE_SIZE and page
        cursor = encode_cursor(str(page[-1].id)) if more else None
        context["rows"] = [_event_row(staff, e) for e in page]
        context["next_url"] = _next(AUDIT_PATH, cursor, **filters)
    if status != 200:
        return staff.render("console/audit.html", status_code=status, **context)
    return staff.listing("console/audit.html", "console/_audit_table.html", **context)


async def _audit_events(staff: Staff, filters: dict[str, str]) -> list[AuditEvent]:
    cursor = staff.query("cursor")
    before = decode_cursor(cursor) if cursor else None
    if cursor and (before is None or not _EVENT_ID.fullmatch(before)):
        raise BadCursor("not a cursor of these pages")
    events = tuple(e.strip() for e in filters["event"].split(",") if e.strip())
    if len(events) > MAX_EVENT_FILTERS or not all(EVENT_FILTER.fullmatch(e) for e in events):
        raise ValidationError(staff.text(MESSAGES["bad_events"]))
    query = audit.AuditQuery(
        actor=filters["actor"] or None,
        since=filters["since"] or None,
        events=events,
        limit=PAGE_SIZE + 1,
        before_id=int(before) if before else None,
    )
    server = staff.server
    return await run_blocking(audit.list_events, server.store, server.clock, query)


def _event_row(staff: Staff, event: AuditEvent) -> dict[str, Any]:
    return {
        "at": staff.when(event.at),
        "at_iso": event.at.isoformat(),
        "event": event.event,
        "client_id": event.client_id or "",
        "user_id": event.user_id or "",
        "detail": json.dumps(dict(event.detail), ensure_ascii=False, sort_keys=True),
    }
