"""`/admin/api/v1/companies`: the developer portal's companies, their members and invitations
— `manage.companies` and `manage.invitations`, over the same rules as the portal's pages.

Developers (portal tokens) may call every operation here; the use-cases give them their own
companies only (an outsider gets 404, learning nothing) and give a company's admin actions to
its admins only (403 access_denied for its developers). A company's entity tag (ETag) is
`manage.companies.company_version`; rename and delete honour `If-Match` (412 when stale). An
invitation's link token is in its e-mail only: no answer here ever holds it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from idplus.manage import companies, invitations
from idplus.manage.display_names import MAX_NAME_LENGTH
from idplus.models import COMPANY_ROLES, Invitation
from idplus.web.admin_api.clients import expected_versions
from idplus.web.admin_api.operations import (
    Call,
    Operation,
    PageQuery,
    Result,
    decode_cursor,
    encode_cursor,
)

CompanyRole = Literal["admin", "developer"]
Locale = Literal["en", "nb"]
assert get_args(CompanyRole) == COMPANY_ROLES
assert get_args(Locale) == invitations.LOCALES
_ROLES: dict[str, CompanyRole] = {role: role for role in get_args(CompanyRole)}


class CompanyOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    created_by: str = Field(description="Who created it: user:ID, client:ID, or cli.")
    role: CompanyRole = Field(description="The caller's role in it (an operator: admin).")


class CompanyList(BaseModel):
    items: list[CompanyOut]
    next_cursor: str | None = Field(
        description="Give it as `cursor` for the next page; null on the last page."
    )


class CompaniesQuery(PageQuery):
    """The query of GET /companies: pages by id."""


class NewCompany(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="Plain text, one line.")
    admin_username: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Operators only: the existing user who becomes its admin (an operator "
        "user may leave it out and become the admin; a developer always does).",
    )


class CompanyChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="Plain text, one line.")


class MemberOut(BaseModel):
    user_id: str
    role: CompanyRole
    joined_at: datetime
    username: str
    name: str | None
    email: str | None


class MemberList(BaseModel):
    items: list[MemberOut]


class MemberChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: CompanyRole


class InvitationOut(BaseModel):
    id: str
    company_id: str
    email: str
    role: CompanyRole
    invited_by: str = Field(description="Who invited: user:ID, client:ID, or cli.")
    created_at: datetime
    expires_at: datetime


class InvitationList(BaseModel):
    items: list[InvitationOut] = Field(description="Pending: neither accepted nor expired.")


class NewInvitation(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    email: str = Field(min_length=3, max_length=invitations.MAX_EMAIL_LENGTH)
    role: CompanyRole = "developer"
    locale: Locale | None = Field(
        default=None, description="The e-mail's language; none: English and Norwegian."
    )


class InvitationAcceptance(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    token: str = Field(description="The token of the link in the invitation e-mail.")


class AcceptedInvitationOut(BaseModel):
    company_id: str
    company_name: str
    role: CompanyRole = Field(description="The caller's role in the company now.")
    already_member: bool = Field(description="True: the caller was a member and keeps the role.")


def list_companies(call: Call) -> Result:
    query = call.query
    assert isinstance(query, CompaniesQuery)
    cursor = query.cursor
    after = decode_cursor(cursor, companies.COMPANY_ID_PATTERN) if cursor is not None else None
    # One more than asked: whether there is a next page.
    found = companies.list_companies(
        call.ctx.store, call.caller, after=after, limit=query.limit + 1
    )
    page = found[: query.limit]
    more = len(found) > query.limit
    listed = CompanyList(
        items=[_company_out(view) for view in page],
        next_cursor=encode_cursor(page[-1].company.id) if more else None,
    )
    return Result(listed)


def create_company(call: Call) -> Result:
    body = call.body
    assert isinstance(body, NewCompany)
    view = companies.create_company(
        call.ctx.store, call.ctx.clock, call.caller, body.name, admin_username=body.admin_username
    )
    return Result(_company_out(view), status=201, etag=_etag(view))


def get_company(call: Call) -> Result:
    view = companies.get_company(call.ctx.store, call.caller, call.path["company_id"])
    return Result(_company_out(view), etag=_etag(view))


def rename_company(call: Call) -> Result:
    body = call.body
    assert isinstance(body, CompanyChange)
    view = companies.rename_company(
        call.ctx.store,
        call.ctx.clock,
        call.caller,
        call.path["company_id"],
        body.name,
        expected_versions=expected_versions(call.if_match),
    )
    return Result(_company_out(view), etag=_etag(view))


def delete_company(call: Call) -> Result:
    companies.delete_company(
        call.ctx.store,
        call.ctx.clock,
        call.caller,
        call.path["company_id"],
        expected_versions=expected_versions(call.if_match),
    )
    return Result(None, status=204)


def list_members(call: Call) -> Result:
    members = companies.list_members(call.ctx.store, call.caller, call.path["company_id"])
    return Result(MemberList(items=[_member_out(member) for member in members]))


def change_member(call: Call) -> Result:
    body = call.body
    assert isinstance(body, MemberChange)
    member = companies.change_member_role(
        call.ctx.store,
        call.ctx.clock,
        call.caller,
        call.path["company_id"],
        call.path["user_id"],
        body.role,
    )
    return Result(_member_out(member))


def remove_member(call: Call) -> Result:
    companies.remove_member(
        call.ctx.store, call.ctx.clock, call.caller, call.path["company_id"], call.path["user_id"]
    )
    return Result(None, status=204)


def list_invitations(call: Call) -> Result:
    pending = invitations.list_invitations(
        call.ctx.store, call.ctx.clock, call.caller, call.path["company_id"]
    )
    return Result(InvitationList(items=[_invitation_out(i) for i in pending]))


def invite(call: Call) -> Result:
    body = call.body
    assert isinstance(body, NewInvitation)
    ctx = call.ctx
    mail = invitations.InvitationMail(
        ctx.sender, ctx.settings.issuer, ctx.secrets.handle_key, ctx.random
    )
    invitation = invitations.invite(
        ctx.store,
        ctx.clock,
        mail,
        call.caller,
        call.path["company_id"],
        body.email,
        body.role,
        locale=body.locale,
    )
    return Result(_invitation_out(invitation), status=201)


def revoke_invitation(call: Call) -> Result:
    invitations.revoke_invitation(
        call.ctx.store,
        call.ctx.clock,
        call.caller,
        call.path["company_id"],
        call.path["invitation_id"],
    )
    return Result(None, status=204)


def accept_invitation(call: Call) -> Result:
    body = call.body
    assert isinstance(body, InvitationAcceptance)
    ctx = call.ctx
    accepted = invitations.accept_invitation(
        ctx.store, ctx.clock, ctx.secrets.handle_key, call.caller, body.token
    )
    out = AcceptedInvitationOut(
        company_id=accepted.company_id,
        company_name=accepted.company_name,
        role=_role(accepted.role),
        already_member=accepted.already_member,
    )
    return Result(out)


def _role(role: str) -> CompanyRole:
    return _ROLES[role]


def _company_out(view: companies.CompanyView) -> CompanyOut:
    company = view.company
    return CompanyOut(
        id=company.id,
        name=company.name,
        created_at=company.created_at,
        created_by=company.created_by,
        role=_role(view.role),
    )


def _member_out(member: companies.Member) -> MemberOut:
    return MemberOut(
        user_id=member.user_id,
        role=_role(member.role),
        joined_at=member.joined_at,
        username=member.username,
        name=member.name,
        email=member.email,
    )


def _invitation_out(invitation: Invitation) -> InvitationOut:
    return InvitationOut(
        id=invitation.id,
        company_id=invitation.company_id,
        email=invitation.email,
        role=_role(invitation.role),
        invited_by=invitation.invited_by,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )


def _etag(view: companies.CompanyView) -> str:
    return f'"{view.version}"'


_COMPANY = "/companies/{company_id}"
_NO_COMPANY = {404: "no such company, or the caller is not a member of it"}
_ADMINS_ONLY = {403: "the caller is a developer of the company, not its admin"}
_STALE = {412: "the company changed since that version (If-Match)"}
_LAST_ADMIN = {409: "it would leave the company without an admin"}

OPERATIONS = (
    Operation("GET", "/companies", "listCompanies",
              "The caller's companies (an operator's: all), by id", list_companies,
              response=CompanyList, query=CompaniesQuery, operators_only=False),
    Operation("POST", "/companies", "createCompany",
              "Create a company; a developer becomes its admin, an operator names the admin",
              create_company, response=CompanyOut, status=201, body=NewCompany,
              errors={403: "a developer naming another admin"}, operators_only=False),
    Operation("GET", _COMPANY, "getCompany", "One company (ETag: its version)", get_company,
              response=CompanyOut, errors=_NO_COMPANY, operators_only=False),
    Operation("PATCH", _COMPANY, "renameCompany", "Rename a company (If-Match: the version read)",
              rename_company, response=CompanyOut, body=CompanyChange,
              errors={**_ADMINS_ONLY, **_NO_COMPANY, **_STALE}, operators_only=False),
    Operation("DELETE", _COMPANY, "deleteCompany",
              "Delete a company with its members and invitations (If-Match: the version read)",
              delete_company, status=204,
              errors={**_ADMINS_ONLY, **_NO_COMPANY, 409: "the company still has apps",
                      **_STALE},
              operators_only=False),
    Operation("GET", f"{_COMPANY}/members", "listCompanyMembers",
              "The company's members (any member may see them)", list_members,
              response=MemberList, errors=_NO_COMPANY, operators_only=False),
    Operation("PATCH", f"{_COMPANY}/members/{{user_id}}", "changeCompanyMemberRole",
              "Make a member an admin or a developer", change_member, response=MemberOut,
              body=MemberChange, errors={**_ADMINS_ONLY, **_NO_COMPANY, **_LAST_ADMIN},
              operators_only=False),
    Operation("DELETE", f"{_COMPANY}/members/{{user_id}}", "removeCompanyMember",
              "Remove a member (admins; any member may leave)", remove_member, status=204,
              errors={**_ADMINS_ONLY, **_NO_COMPANY, **_LAST_ADMIN}, operators_only=False),
    Operation("GET", f"{_COMPANY}/invitations", "listCompanyInvitations",
              "The company's pending invitations", list_invitations, response=InvitationList,
              errors={**_ADMINS_ONLY, **_NO_COMPANY}, operators_only=False),
    Operation("POST", f"{_COMPANY}/invitations", "inviteToCompany",
              "E-mail a single-use link to join the company (valid 7 days)", invite,
              response=InvitationOut, status=201, body=NewInvitation,
              errors={**_ADMINS_ONLY, **_NO_COMPANY,
                      429: "over 20 invitations an hour by the caller, or 50 a day to the "
                      "company (Retry-After: seconds)",
                      503: "the e-mail could not be sent; nothing was changed"},
              operators_only=False),
    Operation("DELETE", f"{_COMPANY}/invitations/{{invitation_id}}", "revokeCompanyInvitation",
              "Withdraw a pending invitation: its link no longer works", revoke_invitation,
              status=204, errors={**_ADMINS_ONLY, **_NO_COMPANY}, operators_only=False),
    Operation("POST", "/invitations/accept", "acceptInvitation",
              "Join the company of an invitation link, once (a user's portal token)",
              accept_invitation, response=AcceptedInvitationOut, body=InvitationAcceptance,
              errors={400: "the link expired or was used already",
                      403: "the caller is not a user"},
              operators_only=False),
)  # fmt: skip
