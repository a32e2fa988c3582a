"""The password-reset repository on SQLite and PostgreSQL: every limit and one-time step holds
under parallel requests, and expired resets are pruned."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from idplus.models import PasswordReset, User
from idplus.store.base import Store
from tests.protocol.login.driver import in_parallel

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = TypeVar("T")


def _reset(reset_id: str = "r1", **overrides: object) -> PasswordReset:
    fields: dict[str, object] = {
        "id": reset_id,
        "handle_hash": f"handle-{reset_id}",
        "browser_hash": "browser-1",
        "user_id": None,
        "name_hash": "name-1",
        "locale": "nb",
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=15),
        "interaction_hash": "login-1",
        "client_id": "spa",
        "code_hash": "code-1",
        "code_expires_at": NOW + timedelta(minutes=5),
        "code_sends": 1,
        "code_sent_at": NOW,
    }
    fields.update(overrides)
    return PasswordReset(**fields)  # type: ignore[arg-type]


def _find(store: Store, reset_id: str = "r1") -> PasswordReset:
    with store.reading() as uow:
        found = uow.password_resets.find_by_handle(f"handle-{reset_id}")
    assert found is not None
    return found


def test_a_reset_reads_back_as_stored(store: Store) -> None:
    with store.transaction() as uow:
        uow.password_resets.insert(_reset())
    assert _find(store) == _reset()
    with store.reading() as uow:
        assert uow.password_resets.find_by_handle("handle-other") is None
        assert uow.password_resets.find_by_email_token("nothing") is None


def test_parallel_guesses_never_exceed_the_limit(store: Store) -> None:
    with store.transaction() as uow:
        uow.password_resets.insert(_reset())

    def guess() -> bool:
        with store.transaction() as uow:
            return uow.password_resets.reserve_code_attempt("r1", 5)

    assert sorted(in_parallel(8, guess)) == [False] * 3 + [True] * 5
    assert _find(store).code_attempts == 5


def test_new_codes_keep_their_interval_and_limit_and_stop_once_verified(store: Store) -> None:
    with store.transaction() as uow:
        uow.password_resets.insert(_reset())

    def send(at: datetime, max_sends: int = 3) -> bool:
        with store.transaction() as uow:
            return uow.password_resets.record_code_sent(
                "r1",
                code_hash=f"code-{at.timestamp()}",
                expires_at=at + timedelta(minutes=5),
                max_sends=max_sends,
                not_sent_since=at - timedelta(seconds=30),
                now=at,
            )

    assert not send(NOW + timedelta(seconds=10))
    later = NOW + timedelta(seconds=30)
    assert in_parallel(4, lambda: send(later)).count(True) == 1
    assert _find(store).code_hash == f"code-{later.timestamp()}"
    assert send(NOW + timedelta(seconds=60))
    assert not send(NOW + timedelta(seconds=90))  # three sent
    assert send(NOW + timedelta(seconds=90), max_sends=4)
    with store.transaction() as uow:
        assert uow.password_resets.mark_code_verified(
            "r1", now=NOW, expires_at=NOW + timedelta(hours=1)
        )
        assert not uow.password_resets.mark_code_verified("r1", now=NOW, expires_at=NOW)
    assert not send(NOW + timedelta(seconds=200), max_sends=9)
    assert _find(store).expires_at == NOW + timedelta(hours=1)


def test_the_email_link_goes_out_once_after_the_code(store: Store) -> None:
    with store.transaction() as uow:
        uow.password_resets.insert(_reset())
        link_until = NOW + timedelta(minutes=30)
        assert not uow.password_resets.record_email_sent(
            "r1", token_hash="t1", expires_at=link_until
        )
        uow.password_resets.mark_code_verified(
            "r1", now=NOW, expires_at=NOW + timedelta(minutes=15)
        )
        assert uow.password_resets.record_email_sent("r1", token_hash="t1", expires_at=link_until)
        assert not uow.password_resets.record_email_sent(
            "r1", token_hash="t2", expires_at=link_until
        )
        found = uow.password_resets.find_by_email_token("t1")
    assert found is not None
    assert (found.email_expires_at, found.expires_at) == (link_until, link_until)


def _with_link(store: Store) -> None:
    with store.transaction() as uow:
        uow.password_resets.insert(_reset(code_verified_at=NOW))
        uow.password_resets.record_email_sent(
            "r1", token_hash="t1", expires_at=NOW + timedelta(minutes=30)
        )


def test_the_email_link_is_used_once_from_its_browser_and_renews_the_handle(store: Store) -> None:
    _with_link(store)

    def use(browser: str = "browser-1", at: datetime = NOW, handle: str = "h2") -> bool:
        with store.transaction() as uow:
            return uow.password_resets.confirm_email(
                "t1",
                browser_hash=browser,
                new_handle_hash=handle,
                now=at,
                expires_at=at + timedelta(minutes=15),
            )

    assert not use(browser="browser-2")
    assert not use(at=NOW + timedelta(minutes=30))
    assert in_parallel(4, lambda: use(handle=f"h-{threading.get_ident()}")).count(True) == 1
    with store.reading() as uow:
        assert uow.password_resets.find_by_handle("handle-r1") is None
        used = uow.password_resets.find_by_email_token("t1")
    assert used is not None
    assert used.email_confirmed_at == NOW
    assert used.handle_hash.startswith("h-")


def test_a_reset_is_consumed_once(store: Store) -> None:
    with store.transaction() as uow:
        uow.password_resets.insert(_reset())

    def consume() -> bool:
        with store.transaction() as uow:
            return uow.password_resets.consume("r1", "handle-r1")

    with store.transaction() as uow:
        assert not uow.password_resets.consume("r1", "a-handle-it-no-longer-has")
    assert sorted(in_parallel(4, consume)) == [False, False, False, True]


def test_pruning_deletes_expired_resets_only(store: Store) -> None:
    with store.transaction() as uow:
        uow.password_resets.insert(_reset("old", expires_at=NOW))
        uow.password_resets.insert(_reset("live", expires_at=NOW + timedelta(seconds=1)))
        deleted = uow.maintenance.prune_expired(NOW)
    assert deleted["password_resets"] == 1
    assert _find(store, "live").id == "live"


def _add_user(store: Store, username: str) -> str:
    user = User(f"u-{username}", username, "$argon2id$…", f"k-{username}", f"a-{username}", ())
    with store.transaction() as uow:
        uow.users.insert(user, NOW)
    return user.id


def test_every_reset_of_a_user_is_deleted_at_once_and_no_one_elses(store: Store) -> None:
    kari, ola = _add_user(store, "+4790000001"), _add_user(store, "+4790000002")
    with store.transaction() as uow:
        uow.password_resets.insert(_reset("r1", user_id=kari))
        uow.password_resets.insert(_reset("r2", user_id=kari, code_verified_at=NOW))
        uow.password_resets.insert(_reset("r3", user_id=ola))
        uow.password_resets.insert(_reset("r4"))
    with store.transaction() as uow:
        assert uow.password_resets.delete_of_user(kari) == 2
    with store.reading() as uow:
        left = [uow.password_resets.find_by_handle(f"handle-r{n}") for n in range(1, 5)]
    assert [r.id if r else None for r in left] == [None, None, "r3", "r4"]
