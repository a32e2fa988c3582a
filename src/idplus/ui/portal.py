"""The developer portal (/portal): companies, their members and invitations. Developers log in
through the built-in portal client; every page calls the same `manage/` use-cases as the admin
API with the developer's `Caller`, so a company they are not in is "not found" here as there.

portal_apps.py: the apps of a company (credentials, examples, API subscriptions).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, run_blocking
from idplus.errors import Forbidden, ValidationError
from idplus.manage import companies, invitations
from idplus.models import COMPANY_ADMIN, COMPANY_ROLES, Invitation
from idplus.policies import PORTAL_CLIENT_ID, PORTAL_SCOPE
from idplus.ui.cookies import clear_invitation_cookie, invitation_token, set_invitation_cookie
from idplus.ui.staff_pages import (
    PAGE_SIZE,
    Area,
    BadCursor,
    Staff,
    authorize_example,
    callback_page,
    decode_cursor,
    encode_cursor,
    page_url,
    staff_page,
)

PORTAL = Area("/portal", PORTAL_CLIENT_ID, "portal/layout.html", operators_only=False)
PORTAL_PATH = "/portal"
NEW_COMPANY_PATH = "/portal/companies/new"
CALLBACK_PATH = "/portal/callback"
INVITATIONS_PATH = "/portal/invitations"
# Long enough for a login (a second factor included), short enough to forget a link soon.
INVITATION_COOKIE_SECONDS = 15 * 60
# A link's token as invitations.invite makes them (base64url); only such a value is kept.
_LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,100}")

MESSAGES = {
    "company_created": "The company is created. You are its admin.",
    "company_deleted": "The company is deleted.",
    "company_renamed": "The company is renamed.",
    "invited": "The invitation is sent.",
    "invitation_revoked": "The invitation is withdrawn: its link no longer works.",
    "role_changed": "The member's role is changed.",
    "member_removed": "The member is removed from the company.",
    "left": "You have left the company.",
    "joined": "Welcome: you are a member of the company now.",
    "delete_company": "Delete the company %(company)s with its members and invitations?",
    "revoke_invitation": "Withdraw the invitation to %(email)s? Its link stops working.",
    "remove_member": "Remove %(member)s from the company?",
    "leave": "Leave the company %(company)s? You need a new invitation to come back.",
    "delete": "Yes, delete it",
    "withdraw": "Yes, withdraw it",
    "remove": "Yes, remove",
    "leave_button": "Yes, leave",
    "invitation_gone": "This invitation link has expired or was used already. Ask for a new "
    "invitation.",
    "admin": "Admin",
    "developer": "Developer",
}
NOTICES = {
    k: MESSAGES[k]
    for k in (
        "company_created",
        "company_deleted",
        "company_renamed",
        "invited",
        "invitation_revoked",
        "role_changed",
        "member_removed",
        "left",
        "joined",
    )
}
ROLE_NAMES = {COMPANY_ADMIN: "admin", "developer": "developer"}


def role_name(staff: Staff, role: str) -> str:
    return staff.text(MESSAGES[ROLE_NAMES[role]]) if role in ROLE_NAMES else role


def company_path(company_id: str) -> str:
    return f"{PORTAL_PATH}/companies/{company_id}"


async def show_callback(request: Request) -> Response:
    """The portal client's redirect URI: the code of a developer's own authorization request
    (an admin API token for their scripts), with the curl command that redeems it."""
    return await callback_page(request, PORTAL_CLIENT_ID, CALLBACK_PATH, PORTAL_SCOPE)


@staff_page(PORTAL)
async def show_home(staff: Staff) -> Response:
    """The developer's companies (an operator sees every company), paged by id."""
    cursor = staff.query("cursor")
    after = decode_cursor(cursor) if cursor else None
    if cursor and (after is None or not companies.COMPANY_ID_PATTERN.fullmatch(after)):
        raise BadCursor("not a cursor of these pages")
    views = await run_blocking(
        lambda: companies.list_companies(
            staff.server.store, staff.caller, after=after, limit=PAGE_SIZE + 1
        )
    )
    page = views[:PAGE_SIZE]
    more = len(views) > PAGE_SIZE
    next_cursor = encode_cursor(page[-1].company.id) if more else None
    return staff.listing(
        "portal/index.html",
        "portal/_companies_table.html",
        rows=[
            {
                "id": v.company.id,
                "url": company_path(v.company.id),
                "name": v.company.name,
                "role": role_name(staff, v.role),
            }
            for v in page
        ],
        next_url=page_url(PORTAL_PATH, {"cursor": next_cursor}) if next_cursor else None,
        authorize=authorize_example(
            staff.server.settings.issuer, PORTAL_CLIENT_ID, CALLBACK_PATH, PORTAL_SCOPE
        ),
        notice=staff.notice(NOTICES),
    )


@staff_page(PORTAL)
async def show_new_company(staff: Staff) -> Response:
    return staff.render("portal/company_new.html", name="")


@staff_page(PORTAL)
async def create_company(staff: Staff) -> Response:
    name = staff.field("name")
    if staff.field("action") != "create":
        return staff.error("refused", 400)
    server = staff.server
    try:
        view = await run_blocking(
            companies.create_company, server.store, server.clock, staff.caller, name
        )
    except ValidationError as refused:
        return staff.render(
            "portal/company_new.html", status_code=400, name=name, problem=staff.problem(refused)
        )
    return staff.see_other(company_path(view.company.id), notice="company_created")


# One company: members, invitations (admins), apps, rename and delete (admins).


@staff_page(PORTAL)
async def show_company(staff: Staff) -> Response:
    return await company_page(staff, notice=staff.notice(NOTICES))


async def company_page(staff: Staff, status_code: int = 200, **context: Any) -> Response:
    from idplus.ui.portal_apps import apps_of_company

    company_id = str(staff.request.path_params["company_id"])
    server, caller = staff.server, staff.caller
    view = await run_blocking(companies.get_company, server.store, caller, company_id)
    members = await run_blocking(companies.list_members, server.store, caller, company_id)
    is_admin = view.role == COMPANY_ADMIN
    pending = []
    if is_admin:
        pending = await run_blocking(
            invitations.list_invitations, server.store, server.clock, caller, company_id
        )
    return staff.render(
        "portal/company.html",
        status_code=status_code,
        company={"id": view.company.id, "name": view.company.name},
        role=role_name(staff, view.role),
        is_admin=is_admin,
        members=[
            {
                "user_id": m.user_id,
                "username": m.username,
                "name": m.name or "",
                "email": m.email or "",
                "role": m.role,
                "role_name": role_name(staff, m.role),
                "joined": staff.when(m.joined_at),
                "is_me": m.user_id == staff.user.id,
            }
            for m in members
        ],
        invitations=[_invitation_row(staff, i) for i in pending],
        roles=[(r, role_name(staff, r)) for r in COMPANY_ROLES],
        apps=await apps_of_company(staff, company_id),
        **context,
    )


def _invitation_row(staff: Staff, invitation: Invitation) -> dict[str, str]:
    return {
        "id": invitation.id,
        "email": invitation.email,
        "role": role_name(staff, invitation.role),
        "expires": staff.when(invitation.expires_at),
    }


@staff_page(PORTAL)
async def act_on_company(staff: Staff) -> Response:
    company_id = str(staff.request.path_params["company_id"])
    action = staff.field("action")
    handler = _COMPANY_ACTIONS.get(action)
    if handler is None:
        return staff.error("refused", 400)
    try:
        return await handler(staff, company_id)
    except ValidationError as refused:
        # A form's value refused (an e-mail address, a name): the page again, with the reason.
        return await company_page(staff, 400, problem=staff.problem(refused))


async def _invite(staff: Staff, company_id: str) -> Response:
    server = staff.server
    mail = invitations.InvitationMail(
        server.sender, server.settings.issuer, server.secrets.handle_key, server.random
    )
    email, role = staff.field("email"), staff.field("role") or "developer"
    await run_blocking(
        lambda: invitations.invite(
            server.store, server.clock, mail, staff.caller, company_id, email, role
        )
    )
    return staff.see_other(company_path(company_id), notice="invited")


async def _revoke_invitation(staff: Staff, company_id: str) -> Response:
    invitation_id = staff.field("invitation_id")
    if not staff.confirmed():
        pending = await run_blocking(
            invitations.list_invitations,
            staff.server.store, staff.server.clock, staff.caller, company_id,
        )  # fmt: skip
        email = next((i.email for i in pending if i.id == invitation_id), invitation_id)
        return staff.confirm(
            staff.text(MESSAGES["revoke_invitation"], email=email),
            action="revoke_invitation",
            button=staff.text(MESSAGES["withdraw"]),
            fields={"invitation_id": invitation_id},
        )
    server = staff.server
    await run_blocking(
        invitations.revoke_invitation,
        server.store, server.clock, staff.caller, company_id, invitation_id,
    )  # fmt: skip
    return staff.see_other(company_path(company_id), notice="invitation_revoked")


async def _change_role(staff: Staff, company_id: str) -> Response:
    server = staff.server
    await run_blocking(
        companies.change_member_role,
        server.store, server.clock, staff.caller, company_id,
        staff.field("user_id"), staff.field("role"),
    )  # fmt: skip
    return staff.see_other(company_path(company_id), notice="role_changed")


async def _remove_member(staff: Staff, company_id: str) -> Response:
    server, user_id = staff.server, staff.field("user_id")
    leaving = user_id == staff.user.id
    if not staff.confirmed():
        view = await run_blocking(companies.get_company, server.store, staff.caller, company_id)
        members = await run_blocking(companies.list_members, server.store, staff.caller, company_id)
        if not leaving:
            _admins_only(view, "remove other members")
        member = next((m.username for m in members if m.user_id == user_id), user_id)
        if leaving:
            question = staff.text(MESSAGES["leave"], company=view.company.name)
        else:
            question = staff.text(MESSAGES["remove_member"], member=member)
        button = MESSAGES["leave_button"] if leaving else MESSAGES["remove"]
        return staff.confirm(
            question,
            action="remove_member",
            button=staff.text(button),
            fields={"user_id": user_id},
        )
    await run_blocking(
        companies.remove_member, server.store, server.clock, staff.caller, company_id, user_id
    )
    if leaving:
        return staff.see_other(PORTAL_PATH, notice="left")
    return staff.see_other(company_path(company_id), notice="member_removed")


async def _rename(staff: Staff, company_id: str) -> Response:
    server = staff.server
    await run_blocking(
        lambda: companies.rename_company(
            server.store, server.clock, staff.caller, company_id, staff.field("name")
        )
    )
    return staff.see_other(company_path(company_id), notice="company_renamed")


async def _delete(staff: Staff, company_id: str) -> Response:
    server = staff.server
    if not staff.confirmed():
        view = await run_blocking(companies.get_company, server.store, staff.caller, company_id)
        _admins_only(view, "delete the company")
        return staff.confirm(
            staff.text(MESSAGES["delete_company"], company=view.company.name),
            action="delete",
            button=staff.text(MESSAGES["delete"]),
        )
    await run_blocking(
        lambda: companies.delete_company(server.store, server.clock, staff.caller, company_id)
    )
    return staff.see_other(PORTAL_PATH, notice="company_deleted")


def _admins_only(view: companies.CompanyView, doing: str) -> None:
    """Refuse a developer before asking "are you sure?" about what only an admin may do (the
    use-case refuses it anyway; this spares the question whose answer is refused)."""
    if view.role != COMPANY_ADMIN:
        raise Forbidden(f"only the company's admins may {doing}")


_COMPANY_ACTIONS = {
    "invite": _invite,
    "revoke_invitation": _revoke_invitation,
    "change_role": _change_role,
    "remove_member": _remove_member,
    "rename": _rename,
    "delete": _delete,
}


# An invitation link: log in (the gate does), see what it is, accept with a button.
#
# The link's token is a secret: it goes in the query (which no log holds; the access log
# writes the path alone) and in no address the login keeps in the database. For the login
# detour it waits in a short-lived cookie sent to this path alone; the page's form carries it
# back (as the password-reset link's page does), so two links open in two tabs each accept
# their own.


@staff_page(PORTAL, login_return=INVITATIONS_PATH)
async def _invitation_page(staff: Staff) -> Response:
    server = staff.server
    token = staff.query("token") or invitation_token(staff.request)
    try:
        preview = await run_blocking(
            invitations.find_invitation, server.store, server.clock, server.secrets.handle_key,
            token,
        )  # fmt: skip
    except ValidationError:
        gone = staff.error(MESSAGES["invitation_gone"], 404)
        clear_invitation_cookie(server, gone, path=INVITATIONS_PATH)
        return gone
    return staff.render(
        "portal/invitation.html",
        company_name=preview.company_name,
        role=role_name(staff, preview.role),
        email=preview.email,
        expires=staff.when(preview.expires_at),
        token=token,
        action_path=INVITATIONS_PATH,
        # Back here without the token: the cookie keeps it.
        switch_back_to=INVITATIONS_PATH,
    )


async def show_invitation(request: Request) -> Response:
    """GET /portal/invitations?token=…, the e-mailed link (or the bare path, after the login
    or a language switch): the invitation, after a login if need be."""
    response = await _invitation_page(request)
    token = request.query_params.get("token", "")
    # A link refused (gone, or the person locked) leaves nothing to come back to.
    if _LINK_TOKEN.fullmatch(token) and response.status_code < 400:
        set_invitation_cookie(
            context_of(request),
            response,
            token,
            path=INVITATIONS_PATH,
            max_age=INVITATION_COOKIE_SECONDS,
        )
    return response


@staff_page(PORTAL, login_return=INVITATIONS_PATH)
async def accept_invitation(staff: Staff) -> Response:
    if staff.field("action") != "accept":
        return staff.error("refused", 400)
    server = staff.server
    try:
        accepted = await run_blocking(
            invitations.accept_invitation,
            server.store, server.clock, server.secrets.handle_key, staff.caller,
            staff.field("token"),
        )  # fmt: skip
    except ValidationError:
        response = staff.error(MESSAGES["invitation_gone"], 404)
    else:
        response = staff.see_other(company_path(accepted.company_id), notice="joined")
    # Used or refused, the link has had its answer: the browser keeps its token no longer.
    clear_invitation_cookie(server, response, path=INVITATIONS_PATH)
    return response
