"""Self-service that needs no page: unlinking upstream accounts (never the last way in)."""

from __future__ import annotations

import threading
from datetime import timedelta

from idplus.models import NO_PASSWORD, SsoSession, User
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
    assert unlink_upstream_account(context, user.id, "p0", "s-0") is not None
    assert unlink_upstream_account(context, user.id, "p1", "s-1") is None
    assert _accounts(context, user) == ["p1"]


def test_with_a_password_every_upstream_account_may_go(context: AppContext) -> None:
    user = _user(context, password=True, accounts=1)
    assert unlink_upstream_account(context, user.id, "p0", "s-0") is not None
    assert _accounts(context, user) == []


def test_another_users_account_is_not_unlinked(context: AppContext) -> None:
    user = _user(context, password=True, accounts=1)
    assert unlink_upstream_account(context, "someone-else", "p0", "s-0") is None
    assert _accounts(context, user) == ["p0"]


def test_parallel_unlinks_of_every_account_leave_exactly_one(context: AppContext) -> None:
    user = _user(context, password=False, accounts=8)
    start, results = threading.Barrier(8), []

    def unlink(n: int) -> None:
        start.wait()
        results.append(unlink_upstream_account(context, user.id, f"p{n}", f"s-{n}") is not None)

    threads = [threading.Thread(target=unlink, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False] + [True] * 7
    assert len(_accounts(context, user)) == 1


def test_an_unlinked_account_ends_its_sessions_and_is_never_linked_again(
    context: AppContext,
) -> None:
    user = _user(context, password=True, accounts=1)
    now = context.clock.now()
    through_it = SsoSession(
        id="sid-up", user_id=user.id, sso_group="one_telenor", auth_time=now,
        acr="urn:telenor.identity.aal.1", amr=("ext",), idp="p0", persistent=False,
        lifetime_seconds=600, created_at=now, last_seen_at=now,
        expires_at=now + timedelta(minutes=10), upstream_subject="s-0",
    )  # fmt: skip
    with context.store.transaction() as uow:
        uow.sessions.insert(through_it, "handle-hash")
    ended = unlink_upstream_account(context, user.id, "p0", "s-0")
    assert ended is not None and [e.session.id for e in ended] == ["sid-up"]
    with context.store.reading() as uow:
        assert uow.upstream_accounts.was_unlinked("p0", "s-0", user.id)
