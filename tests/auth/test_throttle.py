"""Failed logins lock a username or address for a while; the lock lifts by itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from idplus.auth.throttle import locked_until, record_failure, record_success, throttle_keys
from idplus.store.sql.engine import Database

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_five_failures_lock_the_username_for_fifteen_minutes(db: Database) -> None:
    keys = throttle_keys("+4790000001", "10.0.0.1")
    with db.transaction() as conn:
        for _ in range(4):
            record_failure(conn, keys, NOW)
        assert locked_until(conn, keys, NOW) is None
        record_failure(conn, keys, NOW)
        assert locked_until(conn, keys, NOW) == NOW + timedelta(minutes=15)
        assert locked_until(conn, keys, NOW + timedelta(minutes=15)) is None


def test_failures_outside_the_window_start_again(db: Database) -> None:
    keys = throttle_keys("+4790000001", None)
    with db.transaction() as conn:
        for minute in range(0, 40, 10):
            record_failure(conn, keys, NOW + timedelta(minutes=minute))
        assert locked_until(conn, keys, NOW + timedelta(minutes=40)) is None


def test_success_clears_the_username_counter(db: Database) -> None:
    keys = throttle_keys("+4790000001", None)
    with db.transaction() as conn:
        for _ in range(4):
            record_failure(conn, keys, NOW)
        record_success(conn, "+4790000001")
        record_failure(conn, keys, NOW)
        assert locked_until(conn, keys, NOW) is None


def test_many_usernames_from_one_address_lock_the_address(db: Database) -> None:
    with db.transaction() as conn:
        for i in range(30):
            record_failure(conn, throttle_keys(f"+47900000{i:02d}", "10.0.0.9"), NOW)
        assert locked_until(conn, throttle_keys("+4799999999", "10.0.0.9"), NOW) is not None
        assert locked_until(conn, throttle_keys("+4799999999", "10.0.0.8"), NOW) is None
