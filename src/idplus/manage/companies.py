"""Developer portal companies and their members (issue 20): create, list, rename and delete a
company; list members, change a member's role, remove a member.

A company never lacks an admin: it starts with one, and the last admin can be neither demoted
nor removed. Changes to a company's members lock its row first, so two concurrent removals
cannot each see "another admin is left" and leave none. Who may do what is `manage/access.py`:
members see their company, only its admins (and operators) change it, and an outsider is told
the company does not exist.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from idplus.clock import Clock
from idplus.errors import Conflict, Forbidden, NotFoundError, PreconditionFailed, ValidationError
from idplus.manage.access import company_role, require_company_admin
from idplus.manage.display_names import check_display_name
from idplus.models import (
    COMPANY_ADMIN,
    COMPANY_ROLES,
    AuditEvent,
    Caller,
    Company,
    Membership,
    User,
)
from idplus.store.base import Store, UnitOfWork

# Company ids are uuid4 hex: the admin API's cursors hold one.
COMPANY_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
# How `created_by` and the audit trail name the operator at the server's console.
COMMAND_LINE_ACTOR = "cli"


@dataclass(frozen=True, slots=True)
class CompanyView:
    company: Company
    # The caller's role in it; an operator counts as its admin.
    role: str

    @property
    def version(self) -> str:
        return company_version(self.company)


@dataclass(frozen=True, slots=True)
class Member:
    """A member as the company's members see them: who, not how they log in (no hashes)."""

    user_id: str
    role: str
    joined_at: datetime
    username: str
    name: str | None
    email: str | None


def company_version(company: Company) -> str:
    """An entity tag of the company: a rename gives another, so a stale copy is told apart."""
    described = json.dumps(
        {"id": company.id, "name": company.name, "created_at": company.created_at.isoformat()},
        sort_keys=True,
    )
    return hashlib.sha256(described.encode()).hexdigest()[:32]


def actor_of(caller: Caller) -> str:
    return caller.actor or COMMAND_LINE_ACTOR


def detail_of(caller: Caller, **facts: Any) -> dict[str, object]:
    """An audit event's detail: the facts, and who made the change (none: the CLI)."""
    return {**facts, "actor": caller.actor} if caller.actor is not None else dict(facts)


def create_company(
    store: Store, clock: Clock, caller: Caller, name: str, *, admin_username: str | None = None
) -> CompanyView:
    """A developer creating a company becomes its admin. An operator names the user who does
    (`admin_username`; an operator user may leave it out and become the admin)."""
    check_display_name(name, "a company's name")
    if admin_username is not None and not caller.operator:
        raise Forbidden("only an operator may make someone else a company's admin")
    now = clock.now()
    with store.transaction() as uow:
        admin = _first_admin(uow, caller, admin_username)
        company = Company(uuid.uuid4().hex, name, created_at=now, created_by=actor_of(caller))
        uow.companies.insert(company)
        uow.companies.add_member(Membership(company.id, admin.id, COMPANY_ADMIN, now))
        detail = detail_of(caller, company_id=company.id, name=name, admin_user_id=admin.id)
        uow.audit.record(
            AuditEvent(
                "company.created",
                now,
                user_id=admin.id,
                detail=detail,
                target=f"company:{company.id}",
            )
        )
        stored = uow.companies.find(company.id)
    assert stored is not None, "read back in the transaction that wrote it"
    return CompanyView(stored, COMPANY_ADMIN)


def _first_admin(uow: UnitOfWork, caller: Caller, admin_username: str | None) -> User:
    if admin_username is not None:
        user = uow.users.find_by_username(admin_username)
        if user is None:
            raise ValidationError(f"admin_username: no user {admin_username!r}")
    elif caller.user_id is not None:
        user = uow.users.find(caller.user_id)
        if user is None:
            raise NotFoundError("the calling user no longer exists")
    else:
        raise ValidationError("admin_username: name the user who becomes the company's admin")
    if user.disabled_at is not None:
        # A locked admin could not log in to run the company.
        raise ValidationError(f"admin_username: user {user.username!r} is locked")
    return user


def list_companies(
    store: Store, caller: Caller, *, after: str | None = None, limit: int = 50
) -> list[CompanyView]:
    """By id, after `after`: every company for an operator, a developer's own for them."""
    with store.reading() as uow:
        if caller.operator:
            everyone = uow.companies.page(after=after, limit=limit)
            return [CompanyView(company, COMPANY_ADMIN) for company in everyone]
        if caller.user_id is None:
            return []
        theirs = uow.companies.page(after=after, limit=limit, user_id=caller.user_id)
        roles = {m.company_id: m.role for m in uow.companies.memberships_of(caller.user_id)}
    return [CompanyView(company, roles[company.id]) for company in theirs if company.id in roles]


def get_company(store: Store, caller: Caller, company_id: str) -> CompanyView:
    with store.reading() as uow:
        role = company_role(uow, caller, company_id)
        company = uow.companies.find(company_id)
    if company is None:
        raise NotFoundError(f"no company {company_id!r}")
    return CompanyView(company, role)


def rename_company(
    store: Store,
    clock: Clock,
    caller: Caller,
    company_id: str,
    name: str,
    *,
    expected_versions: Collection[str] | None = None,
) -> CompanyView:
    """`expected_versions`: the versions the caller read (If-Match); None: any."""
    check_display_name(name, "a company's name")
    with store.transaction() as uow:
        company = _locked_for_admin(uow, caller, company_id)
        _check_version(company, expected_versions)
        if name != company.name:
            uow.companies.rename(company_id, name)
            detail = detail_of(caller, company_id=company_id, before=company.name, after=name)
            uow.audit.record(
                AuditEvent(
                    "company.renamed", clock.now(), detail=detail, target=f"company:{company_id}"
                )
            )
        renamed = uow.companies.find(company_id)
    assert renamed is not None, "locked by this transaction"
    return CompanyView(renamed, COMPANY_ADMIN)


def delete_company(
    store: Store,
    clock: Clock,
    caller: Caller,
    company_id: str,
    *,
    expected_versions: Collection[str] | None = None,
) -> None:
    """Delete the company with its members and invitations; refused (Conflict) while it has
    apps, whose clients would otherwise be left without an owner."""
    with store.transaction() as uow:
        company = _locked_for_admin(uow, caller, company_id)
        _check_version(company, expected_versions)
        apps = uow.clients.count_of_company(company_id)
        if apps:
            raise Conflict(f"the company still has {apps} app(s): delete them first")
        uow.companies.delete(company_id)
        detail = detail_of(caller, company_id=company_id, name=company.name)
        uow.audit.record(
            AuditEvent(
                "company.deleted", clock.now(), detail=detail, target=f"company:{company_id}"
            )
        )


def list_members(store: Store, caller: Caller, company_id: str) -> list[Member]:
    """Any member may see who else is one."""
    with store.reading() as uow:
        company_role(uow, caller, company_id)
        found = [(m, uow.users.find(m.user_id)) for m in uow.companies.members(company_id)]
    # A read is statement by statement: a user removed between the two is left out.
    return [_as_member(m, user) for m, user in found if user is not None]


def change_member_role(
    store: Store, clock: Clock, caller: Caller, company_id: str, user_id: str, role: str
) -> Member:
    """Admins only; the last admin is never demoted (Conflict)."""
    if role not in COMPANY_ROLES:
        raise ValidationError(f"role: one of {', '.join(COMPANY_ROLES)}")
    with store.transaction() as uow:
        _locked_for_admin(uow, caller, company_id)
        membership = _membership(uow, company_id, user_id)
        if membership.role == role:
            return _member(uow, membership)
        if membership.role == COMPANY_ADMIN and uow.companies.admin_count(company_id) == 1:
            raise Conflict("the company's last admin cannot be demoted: make another admin first")
        uow.companies.set_role(company_id, user_id, role)
        detail = detail_of(caller, company_id=company_id, before=membership.role, after=role)
        uow.audit.record(
            AuditEvent(
                "company.member_role_changed",
                clock.now(),
                user_id=user_id,
                detail=detail,
                target=f"company:{company_id}",
            )
        )
        return _member(uow, replace(membership, role=role))


def remove_member(
    store: Store, clock: Clock, caller: Caller, company_id: str, user_id: str
) -> None:
    """Admins remove anyone, any member themself; the last admin never goes (Conflict)."""
    with store.transaction() as uow:
        if uow.companies.find(company_id, lock=True) is None:
            raise NotFoundError(f"no company {company_id!r}")
        own = caller.user_id == user_id
        if company_role(uow, caller, company_id) != COMPANY_ADMIN and not own:
            raise Forbidden("only the company's admins may remove other members")
        role = _membership(uow, company_id, user_id).role
        if role == COMPANY_ADMIN and uow.companies.admin_count(company_id) == 1:
            raise Conflict("the company's last admin cannot leave: make another admin first")
        uow.companies.remove_member(company_id, user_id)
        detail = detail_of(caller, company_id=company_id, role=role, left_by_themself=own)
        uow.audit.record(
            AuditEvent(
                "company.member_removed",
                clock.now(),
                user_id=user_id,
                detail=detail,
                target=f"company:{company_id}",
            )
        )


def refuse_last_admin(uow: UnitOfWork, user_id: str, username: str, doing: str) -> None:
    """Conflict, naming the companies, when the user is the only admin of any: removing them
    would leave a company nobody can run. Each such company's row is locked first (in id
    order, so two of these never deadlock): a parallel demotion or removal of its other admin
    waits, then sees this one."""
    alone: list[Company] = []
    for membership in uow.companies.memberships_of(user_id):
        if membership.role != COMPANY_ADMIN:
            continue
        company = uow.companies.find(membership.company_id, lock=True)
        if (
            company is not None
            and uow.companies.role_of(company.id, user_id) == COMPANY_ADMIN
            and uow.companies.admin_count(company.id) == 1
        ):
            alone.append(company)
    if alone:
        names = ", ".join(f"{company.name!r} ({company.id})" for company in alone)
        raise Conflict(
            f"cannot {doing} user {username!r}: they are the last admin of {names} (make "
            "another member an admin, or delete the company, first)"
        )


def _locked_for_admin(uow: UnitOfWork, caller: Caller, company_id: str) -> Company:
    """The company, its row locked until the transaction ends, if the caller is its admin:
    NotFoundError for an outsider, Forbidden for a developer of it."""
    company = uow.companies.find(company_id, lock=True)
    if company is None:
        raise NotFoundError(f"no company {company_id!r}")
    require_company_admin(uow, caller, company_id)
    return company


def _check_version(company: Company, expected_versions: Collection[str] | None) -> None:
    if expected_versions is not None and company_version(company) not in expected_versions:
        raise PreconditionFailed(
            f"company {company.id!r} was changed since that version was read",
            detail=f"company {company.id!r} is at {company_version(company)}",
        )


def _membership(uow: UnitOfWork, company_id: str, user_id: str) -> Membership:
    for membership in uow.companies.members(company_id):
        if membership.user_id == user_id:
            return membership
    raise NotFoundError(f"no member {user_id!r} in this company")


def _member(uow: UnitOfWork, membership: Membership) -> Member:
    user = uow.users.find(membership.user_id)
    if user is None:  # removed meanwhile (its memberships go with it)
        raise NotFoundError(f"no member {membership.user_id!r} in this company")
    return _as_member(membership, user)


def _as_member(membership: Membership, user: User) -> Member:
    names = [part for part in (user.given_name, user.family_name) if part]
    return Member(
        user_id=user.id,
        role=membership.role,
        joined_at=membership.joined_at,
        username=user.username,
        name=" ".join(names) or None,
        email=user.email,
    )
