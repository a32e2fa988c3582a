"""Throttling of failed logins per username and per client address.

A key that fails too often inside the window is locked for a while; the lock lifts by itself.
Unknown usernames are counted exactly like known ones, so the throttle reveals nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from idplus.store.sql.throttle import ThrottleState, clear_throttle, find_throttle, save_throttle


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    prefix: str
    max_failures: int
    window: timedelta
    lock: timedelta


USERNAME_RULE = ThrottleRule("username:", 5, timedelta(minutes=15), timedelta(minutes=15))
ADDRESS_RULE = ThrottleRule("ip:", 30, timedelta(minutes=15), timedelta(minutes=15))
# Nine digits are guessable by brute force only without a limit on wrong guesses.
DEVICE_CODE_RULE = ThrottleRule("device-ip:", 10, timedelta(minutes=15), timedelta(minutes=15))


def throttle_keys(username: str, address: str | None) -> list[tuple[ThrottleRule, str]]:
    keys = [(USERNAME_RULE, USERNAME_RULE.prefix + username)]
    if address:
        keys.append((ADDRESS_RULE, ADDRESS_RULE.prefix + address))
    return keys


def locked_until(
    conn: Connection, keys: Sequence[tuple[ThrottleRule, str]], now: datetime
) -> datetime | None:
    """The latest lock among the keys that is still in force, if any."""
    locks = []
    for _rule, key in keys:
        state = find_throttle(conn, key)
        if state is not None and state.locked_until is not None and state.locked_until > now:
            locks.append(state.locked_until)
    return max(locks, default=None)


def record_failure(
    conn: Connection, keys: Sequence[tuple[ThrottleRule, str]], now: datetime
) -> None:
    for rule, key in keys:
        state = find_throttle(conn, key)
        if state is None or now - state.window_started_at > rule.window:
            state = ThrottleState(failures=0, window_started_at=now, locked_until=None)
        failures = state.failures + 1
        lock = now + rule.lock if failures >= rule.max_failures else state.locked_until
        if lock is not None and failures >= rule.max_failures:
            # A new window starts with the lock, so the next lock needs a full set of failures.
            save_throttle(conn, key, ThrottleState(0, now, lock))
        else:
            save_throttle(conn, key, ThrottleState(failures, state.window_started_at, lock))


def record_success(conn: Connection, username: str) -> None:
    clear_throttle(conn, USERNAME_RULE.prefix + username)
