"""Who asks a use-case for something, and what they may do.

The admin API, the developer portal, the operator console and the CLI all call the same
`manage/` use-cases with a `Caller`. Operators (an `idplus:admin` client, a user with the
operator role, the CLI) may do everything; a developer reaches only the companies they belong
to, and only a company's admins invite or remove its members. An outsider asking for a company
gets the same answer as for one that does not exist: they learn nothing of it.
"""

from __future__ import annotations

from idplus.errors import Conflict, Forbidden, NotFoundError
from idplus.models import COMPANY_ADMIN, Caller
from idplus.policies import ADMIN_SCOPE, BUILT_IN_CLIENT_IDS, OPERATOR_ROLE
from idplus.store.base import UnitOfWork


def require_operator(caller: Caller) -> None:
    if not caller.operator:
        raise Forbidden("only an operator may do this")


def company_role(uow: UnitOfWork, caller: Caller, company_id: str) -> str:
    """The caller's role in the company (an operator counts as its admin). NotFoundError for a
    company that does not exist or that the caller is not a member of."""
    company = uow.companies.find(company_id)
    if company is not None:
        if caller.operator:
            return COMPANY_ADMIN
        if caller.user_id is not None:
            role = uow.companies.role_of(company_id, caller.user_id)
            if role is not None:
                return role
    raise NotFoundError(f"no company {company_id!r}")


def require_company_admin(uow: UnitOfWork, caller: Caller, company_id: str) -> None:
    if company_role(uow, caller, company_id) != COMPANY_ADMIN:
        raise Forbidden("only the company's admins may do this")


def operators(uow: UnitOfWork) -> list[str]:
    """Who can still operate the hub, by actor name: the registered `idplus:admin` clients
    (not the built-in console, which is only a way in for operator users) and the unlocked
    users with the operator role. A change that would leave none is refused."""
    clients = [
        f"client:{c.client_id}"
        for c in uow.clients.list_all()
        if ADMIN_SCOPE in c.scopes and c.client_id not in BUILT_IN_CLIENT_IDS
    ]
    users = [
        f"user:{user_id}"
        for user_id in uow.users.with_role(OPERATOR_ROLE)
        if (user := uow.users.find(user_id)) is not None and user.disabled_at is None
    ]
    return clients + users


def refuse_last_operator(uow: UnitOfWork, user_id: str, username: str, doing: str) -> None:
    """Conflict when the user is the only one left who can operate the hub (`operators`), so
    they may not be locked, removed or lose the role. The role holders' rows are locked
    first: a parallel change of another operator waits, then sees this one."""
    uow.registry.lock()
    uow.users.with_role(OPERATOR_ROLE, lock=True)
    if operators(uow) == [f"user:{user_id}"]:
        raise Conflict(
            f"cannot {doing} user {username!r}: they are the last operator (make another user "
            "an operator, or register an idplus:admin client, first)"
        )


def refuse_last_operator_client(uow: UnitOfWork, client_id: str) -> None:
    """Conflict when the client is the only one left who can operate the hub. Removals of
    operator clients and users all take the registry lock first, so two of them at once
    cannot both see "another operator" in each other."""
    uow.registry.lock()
    if operators(uow) == [f"client:{client_id}"]:
        raise Conflict(f"client {client_id!r} is the last operator: register another first")
