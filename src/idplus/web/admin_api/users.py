"""`/admin/api/v1/users`: find users, look one up, lock and unlock them, reset their second
factor, give and take roles — `manage.user_admin`.

Searching matches the start of a username, e-mail address, phone number (in any form the
login takes), kurtid, given or family name, case-insensitively; pages follow the user id. A
user is shown with their roles, lock, passkey count, linked upstream accounts and live session
count; never a password hash or a passkey's key. Locking a user and resetting their second
factor end their sessions as the account page does, telling the relying parties over the back
channel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from idplus.manage import user_admin
from idplus.models import User
from idplus.policies import USER_ROLES
from idplus.protocol.oidc.end_session import BackChannelEnding
from idplus.web.admin_api.operations import (
    Call,
    Operation,
    PageQuery,
    Result,
    decode_cursor,
    encode_cursor,
)
from idplus.web.admin_api.sessions import ID_PATTERN

Role = Literal["operator"]
assert get_args(Role) == USER_ROLES


class UsersQuery(PageQuery):
    q: str = Field(
        default="",
        max_length=user_admin.MAX_QUERY_LENGTH,
        description="The start of a username, e-mail address, phone number, kurtid, given or "
        'family name ("Kari Nor": both names), any case; none: every user.',
    )


class UserOut(BaseModel):
    """What `idplus user show` prints, and whether the user is locked."""

    id: str
    username: str
    kurtid: str
    tnuid: list[str]
    analytics_uuid: str
    ial: int
    otp: bool = Field(description="An SMS code is required at every login.")
    phone_number: str | None
    email: str | None
    given_name: str | None
    family_name: str | None
    birthdate: str | None
    created_at: datetime | None
    locked_at: datetime | None = Field(description="When an operator locked them; null: not.")


class UpstreamAccountOut(BaseModel):
    provider_id: str
    subject: str = Field(description="The user's `sub` at the upstream provider.")
    created_at: datetime


class UserDetailsOut(UserOut):
    roles: list[Role]
    passkeys: int = Field(description="How many passkeys they have.")
    upstream_accounts: list[UpstreamAccountOut]
    live_sessions: int


class UserList(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = Field(description="Give it as `cursor` for the next page.")


class LockUser(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str | None = Field(
        default=None,
        max_length=user_admin.MAX_REASON_LENGTH,
        description="Why, for the audit trail (one line; never shown to the user).",
    )


class ResetSecondFactor(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    phone_number: str | None = Field(
        default=None,
        max_length=32,
        description="Where SMS codes go from now on (90012345, +4790012345 …); none: unchanged.",
    )


def search_users(call: Call) -> Result:
    query = call.query
    assert isinstance(query, UsersQuery)
    after = decode_cursor(query.cursor, ID_PATTERN) if query.cursor is not None else None
    # One more than asked: whether there is a next page.
    found = user_admin.search_users(
        call.ctx.store, call.ctx.clock, call.caller, query.q, after=after, limit=query.limit + 1
    )
    page = found[: query.limit]
    more = len(found) > query.limit
    return Result(
        UserList(
            items=[_out(user) for user in page],
            next_cursor=encode_cursor(page[-1].id) if more else None,
        )
    )


def get_user(call: Call) -> Result:
    ctx = call.ctx
    return _details(user_admin.get_user(ctx.store, ctx.clock, call.caller, call.path["user_id"]))


def lock_user(call: Call) -> Result:
    body, ctx = call.body, call.ctx
    assert isinstance(body, LockUser)
    ending = BackChannelEnding(ctx)
    details = user_admin.lock_user(
        ctx.store, ctx.clock, call.caller, call.path["user_id"], reason=body.reason, ending=ending
    )
    ending.finish()
    return _details(details)


def unlock_user(call: Call) -> Result:
    ctx = call.ctx
    return _details(
        user_admin.unlock_user(
            ctx.store, ctx.clock, call.caller, call.path["user_id"], settings=ctx.settings
        )
    )


def reset_second_factor(call: Call) -> Result:
    body, ctx = call.body, call.ctx
    assert isinstance(body, ResetSecondFactor)
    ending = BackChannelEnding(ctx)
    details = user_admin.reset_second_factor(
        ctx.store,
        ctx.clock,
        call.caller,
        call.path["user_id"],
        settings=ctx.settings,
        phone_number=body.phone_number,
        ending=ending,
    )
    ending.finish()
    return _details(details)


def grant_role(call: Call) -> Result:
    ctx, path = call.ctx, call.path
    return _details(
        user_admin.grant_role(ctx.store, ctx.clock, call.caller, path["user_id"], path["role"])
    )


def revoke_role(call: Call) -> Result:
    ctx, path = call.ctx, call.path
    return _details(
        user_admin.revoke_role(ctx.store, ctx.clock, call.caller, path["user_id"], path["role"])
    )


def _out(user: User) -> UserOut:
    return UserOut.model_validate(user_admin.describe_locked_user(user))


def _details(details: user_admin.UserDetails) -> Result:
    return Result(UserDetailsOut.model_validate(user_admin.describe_details(details)))


_NO_USER = {404: "no such user"}
_REFUSED = {400: "unknown role", 404: "no such user", 409: "they are the last operator"}

OPERATIONS = (
    Operation("GET", "/users", "searchUsers",
              "Users whose username, e-mail, phone number, kurtid or name starts with q, by id",
              search_users, response=UserList, query=UsersQuery),
    Operation("GET", "/users/{user_id}", "getUser",
              "One user: profile, roles, lock, passkeys, upstream accounts, live sessions",
              get_user, response=UserDetailsOut, errors=_NO_USER),
    Operation("POST", "/users/{user_id}/lock", "lockUser",
              "Lock a user: no login, refresh or approval until unlocked; their sessions end "
              "(relying parties told), their refresh tokens are revoked", lock_user,
              response=UserDetailsOut, body=LockUser,
              errors={404: "no such user", 409: "they are the last operator"}),
    Operation("POST", "/users/{user_id}/unlock", "unlockUser",
              "Unlock a user and lift the lock wrong passwords put on their username",
              unlock_user, response=UserDetailsOut, errors=_NO_USER),
    Operation("POST", "/users/{user_id}/reset-second-factor", "resetSecondFactor",
              "Remove every passkey, optionally set a new phone number for SMS codes, lift "
              "the SMS lock and end every session", reset_second_factor,
              response=UserDetailsOut, body=ResetSecondFactor,
              errors={400: "not a phone number", 404: "no such user"}),
    Operation("PUT", "/users/{user_id}/roles/{role}", "grantRole",
              "Give a user a role (operator: the console and the whole admin API)",
              grant_role, response=UserDetailsOut,
              errors={400: "unknown role", 404: "no such user"}),
    Operation("DELETE", "/users/{user_id}/roles/{role}", "revokeRole",
              "Take a role from a user; never from the last operator", revoke_role,
              response=UserDetailsOut, errors=_REFUSED),
)  # fmt: skip
