"""Self-service that needs no page: unlinking upstream accounts (never the last way in)."""

from __future__ import annotations

import threading

from idplus.models import NO_PASSWORD, User
from idplus.protocol.context import AppContext
from idplus.protocol.self_service import unlink_upstream_account


def _user(ctx: AppContext, *, password: bool, accounts: int) -> User:
    user = User(
        id="u-1",
        username="tid:s-0",
        password_hash="$argon2id$not-checked-here" if password else NO_PASSWORD,
        kurtid="100000000001",
        analytics_uuid="a-1",
        tnuids=("t-1",),
    )
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        uow.users.insert(user, now)
        for n in range(accounts):
            uow.upstream_accounts.insert_if_absent(f"p{n}", f"s-{n}", user.id, now)
    return user


def _accounts(ctx: AppContext, user: User) -> list[str]:
    with ctx.store.reading() as uow:
        return [a.provider_id for a in uow.upstream_accounts.list_for_user(user.id)]


def test_the_last_way_in_cannot_be_unlinked(context: AppContext) -> None:
    user = _user(context, password=False, accounts=2)
    assert unlink_upstream_account(context, user.id, "p0", "s-0")
    assert not unlink_upstream_account(context, user.id, "p1", "s-1")
    assert _accounts(context, user) == ["p1"]


def test_with_a_password_every_upstream_account_may_go(context: AppContext) -> None:
    user = _user(context, password=True, accounts=1)
    assert unlink_upstream_account(context, user.id, "p0", "s-0")
    assert _accounts(context, user) == []


def test_another_users_account_is_not_unlinked(context: AppContext) -> None:
    user = _user(context, password=True, accounts=1)
    assert not unlink_upstream_account(context, "someone-else", "p0", "s-0")
    assert _accounts(context, user) == ["p0"]


def test_parallel_unlinks_of_every_account_leave_exactly_one(context: AppContext) -> None:
    user = _user(context, password=False, accounts=8)
    start, results = threading.Barrier(8), []

    def unlink(n: int) -> None:
        start.wait()
        results.append(unlink_upstream_account(context, user.id, f"p{n}", f"s-{n}"))

    threads = [threading.Thread(target=unlink, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False] + [True] * 7
    assert len(_accounts(context, user)) == 1
