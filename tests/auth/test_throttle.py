"""Attempts are reserved before the work they limit; a key that runs out is locked for a while,
the lock lifts by itself, and parallel attempts can never exceed the limit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from idplus.auth.throttle import (
    Throttled,
    ThrottleKey,
    address_bucket,
    key_of,
    login_sms_rule,
    password_keys,
    reserve,
    succeeded,
)
from idplus.config import Settings
from idplus.store.base import Store

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SETTINGS = Settings()


def _attempt(store: Store, keys: list[ThrottleKey], now: datetime = NOW) -> datetime | None:
    """None when the attempt was allowed; otherwise when the lock lifts."""
    try:
        with store.transaction() as uow:
            reserve(uow, keys, now)
    except Throttled as throttled:
        return throttled.until
    return None


def test_fifth_attempt_locks_the_username_for_fifteen_minutes(store: Store) -> None:
    keys = password_keys(SETTINGS, "+4790000001", "10.0.0.1")
    assert [_attempt(store, keys) for _ in range(5)] == [None] * 5
    assert _attempt(store, keys) == NOW + timedelta(minutes=15)
    assert _attempt(store, keys, NOW + timedelta(minutes=15)) is None


def test_attempts_outside_the_window_start_again(store: Store) -> None:
    keys = password_keys(SETTINGS, "+4790000001", None)
    for minute in range(0, 80, 16):
        assert _attempt(store, keys, NOW + timedelta(minutes=minute)) is None
    assert _attempt(store, keys, NOW + timedelta(minutes=80)) is None


def test_success_clears_the_username_and_refunds_the_address(store: Store) -> None:
    strict = Settings(login_failures_per_username=5, login_failures_per_address=2)
    username, address = password_keys(strict, "+4790000001", "10.0.0.1")
    for _ in range(4):
        _attempt(store, [username])
    _attempt(store, [address])
    with store.transaction() as uow:
        succeeded(uow, [username, address])
    assert [_attempt(store, [username]) for _ in range(5)] == [None] * 5
    # Without the refund the address would be locked by its second attempt already.
    assert [_attempt(store, [address]) for _ in range(2)] == [None, None]
    assert _attempt(store, [address]) is not None


def test_many_usernames_from_one_address_lock_the_address(store: Store) -> None:
    for i in range(30):
        assert _attempt(store, password_keys(SETTINGS, f"+47900000{i:02d}", "10.0.0.9")) is None
    assert _attempt(store, password_keys(SETTINGS, "+4799999999", "10.0.0.9")) is not None
    assert _attempt(store, password_keys(SETTINGS, "+4799999999", "10.0.0.8")) is None


def test_a_refused_attempt_spends_nothing_on_the_other_keys(store: Store) -> None:
    address = "10.0.0.7"
    for i in range(30):
        _attempt(store, password_keys(SETTINGS, f"+47910000{i:02d}", address))
    victim = password_keys(SETTINGS, "+4790000001", address)
    for _ in range(10):
        assert _attempt(store, victim) is not None  # the address is locked
    assert [_attempt(store, victim[:1]) for _ in range(5)] == [None] * 5


def test_limits_are_settings() -> None:
    strict = Settings(login_failures_per_username=2, login_sms_per_phone_per_hour=3)
    (rule, _), *_ = password_keys(strict, "u", None)
    assert rule.limit == 2
    assert login_sms_rule(strict).limit == 3


@pytest.mark.parametrize("parallel", [40])
def test_parallel_password_guesses_cannot_exceed_the_limit(store: Store, parallel: int) -> None:
    """The race shown against main: 40 parallel guesses were checked 20 (SQLite) and 37
    (PostgreSQL) times against a limit of 5."""
    keys = password_keys(SETTINGS, "+4790000001", None)
    allowed: list[bool] = []
    start = threading.Barrier(parallel)

    def guess() -> None:
        start.wait()
        allowed.append(_attempt(store, keys) is None)

    threads = [threading.Thread(target=guess) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 5


def test_sms_budget_counts_per_phone_number(store: Store) -> None:
    phone = key_of(login_sms_rule(SETTINGS), "+4790000001")
    assert [_attempt(store, [phone]) for _ in range(10)] == [None] * 10
    assert _attempt(store, [phone]) == NOW + timedelta(hours=1)
    assert _attempt(store, [key_of(login_sms_rule(SETTINGS), "+4790000002")]) is None


def test_a_success_as_the_last_attempt_of_a_window_leaves_the_address_open(store: Store) -> None:
    """29 wrong passwords and one right one from an office NAT must not lock the office."""
    address = password_keys(SETTINGS, "x", "10.0.0.1")[1:]
    for _ in range(30):
        assert _attempt(store, address) is None
    with store.transaction() as uow:
        succeeded(uow, address)
    assert _attempt(store, address) is None


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("1" * 500, "unparsable"),
        ("not an address", "unparsable"),
    ],
)
def test_addresses_are_counted_per_ipv4_address_and_ipv6_slash_64(
    address: str, bucket: str
) -> None:
    assert address_bucket(address) == bucket


def test_a_forwarded_address_of_any_length_is_a_bounded_key(store: Store) -> None:
    """A junk X-Forwarded-For from a trusted proxy was a 500 on PostgreSQL (key too long)."""
    assert _attempt(store, password_keys(SETTINGS, "x", "1" * 5000)) is None
