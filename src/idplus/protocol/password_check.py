"""Checking a password, the one way every front does it (login page, gateway, account page).

Order matters: a hashing slot first (no slot, no cost: the request is shed), then the
attempt is reserved against the username and address budgets in its own short transaction,
then the slow hash runs outside any transaction. Only a success gives the attempt back.
"""

from __future__ import annotations

from idplus.auth import local, throttle
from idplus.models import User
from idplus.protocol.context import AppContext


class WrongPassword(Exception):
    """Unknown username or wrong password: the two are never told apart."""


class SecondFactorRequired(Exception):
    """The password is right, but this user may not log in with a password alone."""


def check_password(
    ctx: AppContext,
    username: str,
    password: str,
    address: str | None,
    *,
    password_alone_must_do: bool = False,
) -> User:
    """The user, or WrongPassword / throttle.Throttled / hashing.HashingBusy.

    With `password_alone_must_do` (a grant that has no second step), a user who must give a
    second factor is refused, and the attempt stays counted.
    """
    now = ctx.clock.now()
    keys = throttle.password_keys(ctx.settings, username, address)
    with ctx.hash_slots.slot():
        with ctx.store.transaction() as uow:
            filled = throttle.reserve(uow, keys, now)
            user = local.find_user_for_login(uow, username)
        if not local.password_matches(user, password):
            _count_lockouts(ctx, filled)
            raise WrongPassword
    assert user is not None
    if password_alone_must_do and user.otp_required:
        _count_lockouts(ctx, filled)
        raise SecondFactorRequired
    with ctx.store.transaction() as uow:
        throttle.succeeded(uow, keys)
    return user


def _count_lockouts(ctx: AppContext, filled: list[throttle.ThrottleRule]) -> None:
    """This failed attempt was the last its window allowed: the name or address is locked
    now (counted once, at the transition, not for each attempt refused afterwards)."""
    for rule in filled:
        if rule.lockout_scope is not None:
            ctx.identity_metrics.locked_out(rule.lockout_scope)
